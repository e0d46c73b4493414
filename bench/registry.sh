# A plain-HTTP docker-registry on a free port of 127.0.0.1 (sourced). Sets: port, regdir, regpid.
# The caller stops it: kill "$regpid"; rm -rf "$regdir". With registry_access_log set (non-empty),
# its access log is on, kept with the rest of its output in $regdir/access.log.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
regdir="$(mktemp -d)"
cat >"$regdir/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: $([[ -n "${registry_access_log:-}" ]] && echo false || echo true)}}
storage: {filesystem: {rootdirectory: $regdir/storage}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
if [[ -n "${registry_access_log:-}" ]]; then
  docker-registry serve "$regdir/config.yml" >"$regdir/access.log" 2>&1 &
else
  docker-registry serve "$regdir/config.yml" 2>"$regdir/stderr" &
fi
regpid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
