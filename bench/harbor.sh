#!/usr/bin/env bash
# Benchmark: the Harbor scanner adapter under a burst. Five distinct Alpine images (built with
# umoci from the testdata minirootfs tarballs) in a local docker-registry with its access log on;
# `portcullis serve` with the Alpine secdb + NVD testdata database; 50 concurrent
# `POST /harbor/api/v1/scan` (10 per image, as Harbor sends them when several projects push the
# same image), then every report polled through 302 to 200. Prints the time until all 50 reports
# are ready and the blob downloads the registry served (target: exactly one pull per image),
# beside two floors: `skopeo copy` of the five images, and five cold `portcullis scan` runs.
name=""
needs="docker-registry skopeo umoci curl python3"
# shellcheck source=bench/common.sh
source "$(dirname "$0")/common.sh"

db="$work/harbor-bench.sqlite"
cached_db "$db" "$testdata/advisories/alpine-secdb" "$testdata/advisories/nvd"

# Five images: Alpine 3.9.6 and 3.20.3 root filesystems, each with a file of its own.
layout="$work/harbor-layout"
if [[ ! -f "$layout/index.json" ]]; then
  rm -rf "$layout" "$work/harbor-bundle"
  umoci init --layout "$layout"
  for i in 1 2 3 4 5; do
    version=$([[ $((i % 2)) == 1 ]] && echo 3.9.6 || echo 3.20.3)
    umoci new --image "$layout:app$i"
    umoci unpack --rootless --image "$layout:app$i" "$work/harbor-bundle" >/dev/null
    tar -C "$work/harbor-bundle/rootfs" -xzf "$testdata/images/alpine/alpine-minirootfs-$version-x86_64.tar.gz"
    echo "bench image $i" >"$work/harbor-bundle/rootfs/etc/bench-image"
    umoci repack --image "$layout:app$i" "$work/harbor-bundle"
    rm -rf "$work/harbor-bundle"
  done
fi

# A registry with its access log kept ($regdir/access.log).
registry_access_log=1
# shellcheck source=bench/registry.sh
source "$here/registry.sh"
servepid=""
trap 'kill $regpid $servepid 2>/dev/null; rm -rf "$regdir"' EXIT
for i in 1 2 3 4 5; do
  skopeo --insecure-policy copy --dest-tls-verify=false "oci:$layout:app$i" "docker://127.0.0.1:$port/bench/app$i:1" >/dev/null
done

cat >"$regdir/serve.yaml" <<YML
apiTokens: [bench-token]
registries: [{registry: "127.0.0.1:$port", insecure: true}]
YML
PORTCULLIS_DATABASE_UPDATE_INTERVAL=0s "$portcullis" --db "$db" serve --plain-http \
  --listen 127.0.0.1:0 --config "$regdir/serve.yaml" 2>"$regdir/serve.log" &
servepid=$!
addr=""
for _ in $(seq 200); do
  addr=$(sed -n 's/^portcullis serve: listening on \([^ ]*\).*/\1/p' "$regdir/serve.log")
  [[ -n "$addr" ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

before=$(grep -c '"GET /v2/[^"]*/blobs/[^"]*" 200' "$regdir/access.log" || true)
python3 - "$addr" "$port" >"$regdir/result" <<'PY'
import concurrent.futures, http.client, json, sys, time
addr, port = sys.argv[1], sys.argv[2]
host, p = addr.rsplit(":", 1)
auth = {"Authorization": "Bearer bench-token"}

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, int(p), timeout=120)
    c.request(method, path, body=body, headers={**auth, **(headers or {})})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data

def digest(i):
    c = http.client.HTTPConnection("127.0.0.1", int(port))
    c.request("HEAD", f"/v2/bench/app{i}/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    r = c.getresponse(); r.read()
    return r.getheader("Docker-Content-Digest")

digests = {i: digest(i) for i in range(1, 6)}
def scan(n):
    i = n % 5 + 1
    body = json.dumps({"registry": {"url": f"http://127.0.0.1:{port}"},
                       "artifact": {"repository": f"bench/app{i}", "digest": digests[i],
                                    "mime_type": "application/vnd.oci.image.manifest.v1+json"}})
    status, data = call("POST", "/harbor/api/v1/scan", body)
    assert status == 202, (status, data)
    return json.loads(data)["id"]

def ready(scan_id):
    while True:
        status, data = call("GET", f"/harbor/api/v1/scan/{scan_id}/report",
                            headers={"Accept": "application/vnd.security.vulnerability.report; version=1.1"})
        if status == 200:
            return len(json.loads(data)["vulnerabilities"])
        assert status == 302, (status, data)
        time.sleep(0.02)

start = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(50) as pool:
    ids = list(pool.map(scan, range(50)))
    accepted = time.monotonic() - start
    counts = list(pool.map(ready, ids))
done = time.monotonic() - start
print(f"{accepted:.3f} {done:.3f} {sum(counts)}")
PY
read -r accepted_s ready_s findings <"$regdir/result"
after=$(grep -c '"GET /v2/[^"]*/blobs/[^"]*" 200' "$regdir/access.log" || true)
blobs=$((after - before))

floor_copy=$( { /usr/bin/time -f '%e' bash -c "for i in 1 2 3 4 5; do rm -rf '$regdir/copy'; skopeo --insecure-policy copy --src-tls-verify=false docker://127.0.0.1:$port/bench/app\$i:1 dir:'$regdir/copy' >/dev/null; done"; } 2>&1 | tail -1)
floor_scan=$( { /usr/bin/time -f '%e' bash -c "for i in 1 2 3 4 5; do '$portcullis' --db '$db' scan --insecure -f json 127.0.0.1:$port/bench/app\$i:1 >/dev/null; done"; } 2>&1 | tail -1)

printf '%-58s %s\n' "50 scan requests (5 images) accepted (202) in" "$accepted_s s"
printf '%-58s %s\n' "all 50 reports ready (200) after" "$ready_s s ($findings findings in all)"
printf '%-58s %s (5 configs + 5 layers = 10: one pull per image)\n' "blob downloads served by the registry" "$blobs"
printf '%-58s %s s\n' "floor: skopeo copy of the 5 images, one after another" "$floor_copy"
printf '%-58s %s s\n' "floor: 5 cold \`portcullis scan\` runs, one after another" "$floor_scan"
