# The Portcullis image for users who build with Docker (BuildKit). It gives the same result as
# scripts/build-image.sh: the release binary on a distroless base holding glibc, libgcc, the CA
# bundle, /etc/passwd with nonroot (65532), /tmp and dpkg status.d entries; no shell, no
# package manager. Not built in this repository's CI (no Docker engine there); the script is
# the tested path. Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 .`
# builds each architecture natively under emulation (the Rust build is slow under QEMU).
#
#   docker build -t registry.example/portcullis:v0.1.0 .

ARG RUST_VERSION=1.89
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p portcullis-cli \
 && install -D -m 0755 target/release/portcullis /out/portcullis

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="portcullis" \
      org.opencontainers.image.source="https://example.invalid/portcullis" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/portcullis /usr/local/bin/portcullis
USER 65532:65532
EXPOSE 8443/tcp
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve"]
