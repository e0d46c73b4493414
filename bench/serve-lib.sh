# Shared by the benches that run `portcullis serve` (sourced; needs `portcullis` and `run`, a
# temporary directory): a local docker-registry, the server over TLS with a fresh certificate,
# and AdmissionReview bodies.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A plain-HTTP docker-registry on 127.0.0.1, storing under $run/storage; sets regport and
# regpid, and waits until it answers.
start_registry() {
  regport="$(free_port)"
  cat >"$run/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $run/storage
http:
  addr: 127.0.0.1:$regport
YML
  docker-registry serve "$run/registry.yml" >"$run/registry.log" 2>&1 &
  regpid=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$regport/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
}

# A fresh temporary directory $run and a registry started in it (start_registry); on exit the
# registry and the server (srvpid) are stopped and $run removed.
start_run() {
  run="$(mktemp -d)"
  regpid="" srvpid=""
  trap 'kill $regpid $srvpid 2>/dev/null || true; rm -rf "$run"' EXIT
  start_registry
}

# `portcullis serve` over TLS (a fresh self-signed certificate, $run/tls.crt) with the database
# $1 and the further arguments; sets srvpid and url, and waits until /readyz says ready.
start_server() {
  local db="$1"
  shift
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -keyout "$run/tls.key" -out "$run/tls.crt" 2>/dev/null
  local port
  port="$(free_port)"
  "$portcullis" --db "$db" serve --listen "127.0.0.1:$port" \
    --tls-cert "$run/tls.crt" --tls-key "$run/tls.key" "$@" 2>"$run/serve.stderr" &
  srvpid=$!
  url="https://127.0.0.1:$port"
  for _ in $(seq 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$run/tls.crt" "$url/readyz")" == 200 ]] && break
    sleep 0.1
  done
}

# An AdmissionReview (admission.k8s.io/v1) creating one Pod that runs image $1, with uid $2.
review() {
  python3 - "$1" "${2:-0b8a3c1e-0000-4000-8000-000000000001}" <<'PY'
import json, sys
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "bench", "namespace": "default", "labels": {"app": "bench"}},
       "spec": {"containers": [{"name": "app", "image": sys.argv[1]}]}}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
  "request": {"uid": sys.argv[2],
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "resource": {"group": "", "version": "v1", "resource": "pods"},
    "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
    "requestResource": {"group": "", "version": "v1", "resource": "pods"},
    "name": "bench", "namespace": "default", "operation": "CREATE",
    "userInfo": {"username": "bench"}, "object": pod, "dryRun": False,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}}))
PY
}
