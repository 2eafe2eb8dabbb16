#!/usr/bin/env bash
# Checks the deployment files with the tools operators use, and proves that what they
# configure comes up ready. Exits non-zero on the first failure.
#
#  compose     deploy/compose.yaml rendered by `docker-compose config` (v1, Debian's; it
#              refuses the top-level `name:`, which is Compose v2's, so a copy without that one
#              line is rendered) with placeholder secret files: the secrets must resolve to
#              deploy/secrets/, which git must ignore and hold nothing of. Then the image's
#              config (config/vodsign.toml) with the compose environment is started against a
#              local Redis and must become ready without a warning.
#  kubernetes  `kubectl kustomize deploy/kubernetes` validated by `kubernetes-validate
#              --strict` for Kubernetes $K8S_VERSION, the monitoring component too (its
#              PodMonitor is a CRD the validator has no schema for: it is reported, not
#              validated). The rendered ConfigMap's vodsign.toml is started with the
#              Deployment's environment against a local Redis; only addresses, ports and the
#              secret files' paths are replaced. The probes' paths must answer 200, the log
#              must hold no warning, and a signature request must be counted in Redis.
#  uploads     the optional upload tickets: deploy/compose.uploads.yaml rendered over
#              compose.yaml (its secrets under deploy/secrets/, git-ignored), and the
#              kustomize component components/uploads rendered through an overlay and
#              validated with --strict. A throwaway PostgreSQL (initdb/pg_ctl as the postgres
#              user, password authentication over TCP, stopped and removed on exit) gets a
#              role and a database; then each deployment's vodsign (the k8s ConfigMap's file
#              with the patched Deployment's environment; the image's config with the
#              compose environment) is started with generated secret files (store URL with
#              the role's password, context key) and must migrate, become ready without a
#              warning, answer POST /v1/uploads with 201 and a re-sign with 200, and leave
#              the upload in PostgreSQL.
#  nginx       `nginx -t` on deploy/nginx.conf, with the upstream host replaced by 127.0.0.1
#              (and `resolve` dropped when the local nginx is older than 1.27.3, which added it).
#  observability  `promtool check rules` and `promtool test rules` on deploy/observability,
#              every PromQL expression of the Grafana dashboard parsed by promtool, and every
#              metric name the dashboard and rules use found in the instance's /metrics or in
#              src/.
#
#   scripts/check-deploy.sh                               # builds the debug binary if needed
#   VODSIGN_BIN=target/release/vodsign scripts/check-deploy.sh
#
# Missing tools are installed: docker-compose, kubectl, prometheus (for promtool), nginx and
# redis-server, postgresql (and curl) with apt-get; kubernetes-validate with pip.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# A version the pinned kubernetes-validate has schemas for.
K8S_VERSION=1.34.0

# pip installs console scripts here; a fresh pyenv may not have a shim for them yet.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"

say() { printf 'check-deploy: %s\n' "$*" >&2; }
fail() {
    say "FAILED: $*"
    exit 1
}

# --- tools -------------------------------------------------------------------------------
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# The server's initdb/pg_ctl (not on PATH in Debian's package) and psql, for the uploads check.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if ((${#missing[@]})); then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v kubernetes-validate >/dev/null 2>&1; then
    say "installing kubernetes-validate with pip"
    python3 -m pip install --quiet 'kubernetes-validate>=1.34,<2'
fi
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml

bin="${VODSIGN_BIN:-}"
unset VODSIGN_BIN # ours, not a setting of the service
if [[ -z "$bin" ]]; then
    # A no-op when the debug binary is fresh (e.g. built by an earlier CI step).
    cargo build --locked --quiet --bin vodsign
    bin="${CARGO_TARGET_DIR:-target}/debug/vodsign"
fi
[[ -x "$bin" ]] || fail "no vodsign binary at $bin"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

WORK="$(mktemp -d)"
pids=()
PG_DIR=""
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $PG_DIR ]]; then
        pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -t 10 stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    rm -rf "$WORK"
}
# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
pg_as_owner() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# HTTP status of GET $1 ("000" when there is no answer).
status_of() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
}

# Starts a Redis of our own on a free loopback port; sets REDIS_PORT.
start_redis() {
    REDIS_PORT="$(free_port)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize no >"$WORK/redis-$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "$1: redis-server did not start on port $REDIS_PORT"
}

# Runs vodsign serve in an environment file ($2: KEY=VALUE lines, already holding the
# service's own variables), waits until $3 (a path) answers 200 on the public port, and
# fails on any warning or error in its log. $1 names the check. Sets PORT, ADMIN_PORT, LOG.
serve_until_ready() {
    local name=$1 envfile=$2 ready_path=$3
    PORT="$(free_port)"
    ADMIN_PORT="$(free_port)"
    LOG="$WORK/vodsign-$name.log"
    {
        echo "VODSIGN_SERVER__LISTEN=127.0.0.1:$PORT"
        echo "VODSIGN_ADMIN__LISTEN=127.0.0.1:$ADMIN_PORT"
        echo "VODSIGN_LIMITS__REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    } >>"$envfile"
    # Only the listed variables: nothing of this shell's environment leaks in.
    (mapfile -t vars <"$envfile" && exec env -i PATH="$PATH" HOME="$WORK" "${vars[@]}" "$bin" serve) \
        >"$LOG" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local status=000
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$LOG" >&2
            fail "$name: vodsign exited before it was ready"
        fi
        status="$(status_of "http://127.0.0.1:$PORT$ready_path")"
        [[ $status == 200 ]] && break
        sleep 0.2
    done
    if [[ $status != 200 ]]; then
        cat "$LOG" >&2
        fail "$name: GET $ready_path answered $status, not 200, after 20 s"
    fi
    # Start-up warnings come before the listener answers; give the batched writer its 20 ms.
    sleep 0.3
    if grep -E '"level":"(WARN|ERROR)"|not rate-limited' "$LOG" >&2; then
        fail "$name: vodsign logged the warnings or errors above at start-up"
    fi
    say "$name: vodsign ready on $ready_path, no warning in its log"
}

# A generated API key in VODSIGN_API_KEYS of $1 (an environment file), for policy
# "default"; sets API_KEY. Never a real key: made here, used once.
add_test_key() {
    local toml
    toml="$("$bin" hash-key --id ci --subject ci-user --policy default 2>"$WORK/key.txt")"
    API_KEY="$(grep -o 'vsk_ci_[A-Za-z0-9_-]*' "$WORK/key.txt" | head -n1)"
    local sha
    sha="$(printf '%s\n' "$toml" | sed -n 's/^sha256 = "\([0-9a-f]*\)"$/\1/p')"
    [[ -n $API_KEY && -n $sha ]] || fail "hash-key printed no key"
    echo "VODSIGN_API_KEYS=[{id=\"ci\", sha256=\"$sha\", subject=\"ci-user\", policy=\"default\"}]" >>"$1"
}

# Placeholder VOD credentials as files, as the deployments mount them. Sets SECRET_DIR.
placeholder_secrets() {
    SECRET_DIR="$WORK/secrets-$1"
    mkdir -p "$SECRET_DIR"
    printf 'AKIDplaceholder%s' "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$SECRET_DIR/secret_id"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$SECRET_DIR/secret_key"
}

# --- compose -----------------------------------------------------------------------------
say "compose: docker-compose config on deploy/compose.yaml"
docker-compose version --short >&2
grep -qx 'name: vodsign' deploy/compose.yaml || fail "compose: deploy/compose.yaml has no top-level 'name: vodsign'"
mkdir -p "$WORK/compose/deploy/secrets"
cp deploy/nginx.conf "$WORK/compose/deploy/"
# v1 refuses Compose v2's top-level `name:`; everything else is rendered as written.
grep -vx 'name: vodsign' deploy/compose.yaml >"$WORK/compose/deploy/compose.yaml"
printf 'placeholder-id' >"$WORK/compose/deploy/secrets/vod_secret_id"
printf 'placeholder-key' >"$WORK/compose/deploy/secrets/vod_secret_key"
(cd "$WORK" && docker-compose -f "$WORK/compose/deploy/compose.yaml" config) >"$WORK/compose.rendered.yaml" \
    || fail "compose: docker-compose config refused deploy/compose.yaml"

# Each secret file, as a path relative to the checkout, one per line; and the environment
# of the vodsign service.
python3 - "$WORK/compose.rendered.yaml" "$WORK/compose/" "$WORK/compose.secrets" "$WORK/compose.env" <<'PY'
import os, sys, yaml
rendered, base, secrets_out, env_out = sys.argv[1:]
doc = yaml.safe_load(open(rendered))
paths = []
for name, secret in (doc.get("secrets") or {}).items():
    path = os.path.realpath(secret["file"])
    if not path.startswith(os.path.realpath(base) + os.sep):
        sys.exit(f"secret {name} resolves outside the checkout: {path}")
    paths.append(os.path.relpath(path, os.path.realpath(base)))
if not paths:
    sys.exit("no secrets in the rendered compose file")
service = doc["services"]["vodsign"]
used = {s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])}
if used != set(doc["secrets"]):
    sys.exit(f"the vodsign service uses secrets {sorted(used)}, the file defines {sorted(doc['secrets'])}")
open(secrets_out, "w").write("\n".join(paths) + "\n")
env = service.get("environment") or {}
open(env_out, "w").write("".join(f"{k}={v}\n" for k, v in env.items()))
PY
while read -r secret; do
    case "$secret" in
    deploy/secrets/*) ;;
    *) fail "compose: secret file resolves to $secret, not under deploy/secrets/" ;;
    esac
    git check-ignore -q --no-index "$secret" || fail "compose: $secret is not git-ignored"
    say "compose: secret file $secret (git-ignored)"
done <"$WORK/compose.secrets"
[[ -z "$(git ls-files deploy/secrets)" ]] || fail "compose: files under deploy/secrets/ are committed"

# The image's configuration (the Dockerfile copies config/vodsign.toml) with the compose
# environment: the secret paths point at placeholder files, the addresses at loopback.
grep -q '^COPY config/vodsign.toml /etc/vodsign/vodsign.toml$' Dockerfile \
    || fail "compose: the Dockerfile no longer installs config/vodsign.toml; update this check"
placeholder_secrets compose
start_redis compose
{
    echo "VODSIGN_CONFIG=$ROOT/config/vodsign.toml"
    sed -e "s|^VODSIGN_SECRET_ID_FILE=.*|VODSIGN_SECRET_ID_FILE=$SECRET_DIR/secret_id|" \
        -e "s|^VODSIGN_SECRET_KEY_FILE=.*|VODSIGN_SECRET_KEY_FILE=$SECRET_DIR/secret_key|" \
        -e '/^VODSIGN_LIMITS__REDIS_URL=/d' "$WORK/compose.env"
} >"$WORK/compose.run.env"
grep -q "^VODSIGN_SECRET_KEY_FILE=$SECRET_DIR/" "$WORK/compose.run.env" \
    || fail "compose: the vodsign service sets no VODSIGN_SECRET_KEY_FILE"
serve_until_ready compose "$WORK/compose.run.env" /readyz

# --- kubernetes --------------------------------------------------------------------------
say "kubernetes: kubectl kustomize + kubernetes-validate --strict ($K8S_VERSION)"
kubectl kustomize deploy/kubernetes >"$WORK/k8s.yaml"
kubernetes-validate --quiet --strict -k "$K8S_VERSION" "$WORK/k8s.yaml" \
    || fail "kubernetes: the rendered manifests do not validate"

# The optional monitoring component, through an overlay as an operator would add it.
mkdir -p "$WORK/overlay"
cp -r deploy/kubernetes "$WORK/base"
printf 'resources: [../base]\ncomponents: [../base/components/monitoring]\n' >"$WORK/overlay/kustomization.yaml"
kubectl kustomize "$WORK/overlay" >"$WORK/k8s-monitoring.yaml"
kubernetes-validate --strict -k "$K8S_VERSION" "$WORK/k8s-monitoring.yaml" >"$WORK/validate-monitoring.txt" 2>&1 \
    || { cat "$WORK/validate-monitoring.txt" >&2; fail "kubernetes: the monitoring overlay does not validate"; }
if grep -v '^INFO ' "$WORK/validate-monitoring.txt" | grep -v 'schema for kind PodMonitor with api version monitoring.coreos.com/v1' | grep -q .; then
    cat "$WORK/validate-monitoring.txt" >&2
    fail "kubernetes: unexpected findings in the monitoring overlay"
fi
say "kubernetes: the monitoring overlay validates; its PodMonitor (a CRD) has no schema in kubernetes-validate and is not validated"

# What the pod would run: the generated ConfigMap's file and the container's environment.
placeholder_secrets k8s
python3 - "$WORK/k8s.yaml" "$WORK" "$SECRET_DIR" <<'PY' || fail "kubernetes: the rendered manifests do not fit together"
import os, re, sys, tomllib, yaml
rendered, work, secret_dir = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
deploy = by_kind["Deployment"]["vodsign"]
pod = deploy["spec"]["template"]["spec"]
container = next(c for c in pod["containers"] if c["name"] == "vodsign")
mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
env = {e["name"]: e["value"] for e in container["env"]}

# The config file: the generated ConfigMap (name with its content hash) mounted where
# VODSIGN_CONFIG points.
config_path = env["VODSIGN_CONFIG"]
config_volume = next(n for n, p in mounts.items() if config_path.startswith(p.rstrip("/") + "/"))
cm_name = volumes[config_volume]["configMap"]["name"]
if not re.fullmatch(r"vodsign-config-[a-z0-9]{10}", cm_name):
    sys.exit(f"the config volume uses ConfigMap {cm_name}, not a generated vodsign-config-<hash>")
text = by_kind["ConfigMap"][cm_name]["data"][os.path.basename(config_path)]
open(os.path.join(work, "k8s-vodsign.toml"), "w").write(text)
config = tomllib.loads(text)

# Redis: the URL's host is the shipped Service, the NetworkPolicy lets only vodsign in.
url = config["limits"]["redis_url"]
host, port = re.fullmatch(r"redis://([^:/@]+):(\d+)(/\d+)?", url).group(1, 2)
service = by_kind["Service"].get(host)
if not service or int(port) not in [p["port"] for p in service["spec"]["ports"]]:
    sys.exit(f"limits.redis_url names {host}:{port}, which no Service in the manifests serves")
redis_pods = service["spec"]["selector"]
policy = next((p for p in by_kind.get("NetworkPolicy", {}).values()
               if p["spec"]["podSelector"].get("matchLabels") == redis_pods), None)
if not policy or "Ingress" not in policy["spec"]["policyTypes"]:
    sys.exit("no NetworkPolicy restricts who reaches Redis")
sources = [f for rule in policy["spec"]["ingress"] for f in rule.get("from", [])]
if sources != [{"podSelector": {"matchLabels": deploy["spec"]["selector"]["matchLabels"]}}]:
    sys.exit(f"Redis admits {sources}, not only the vodsign pods")
if config["limits"].get("backend") != "redis":
    sys.exit("limits.backend is not redis")

# Probes: on the public port, which is the config's listen port.
ports = {p["name"]: p["containerPort"] for p in container["ports"]}
listen_port = int(config["server"]["listen"].rsplit(":", 1)[1])
for probe in ("readinessProbe", "livenessProbe"):
    get = container[probe]["httpGet"]
    if ports.get(get["port"], get["port"]) != listen_port:
        sys.exit(f"{probe} uses port {get['port']}, not the public listener's {listen_port}")
open(os.path.join(work, "k8s-probes"), "w").write(
    f'{container["readinessProbe"]["httpGet"]["path"]}\n{container["livenessProbe"]["httpGet"]["path"]}\n')

# The container's environment, with the secret files' paths moved to placeholders.
secret_mount = next(mounts[n] for n, v in volumes.items() if "secret" in v)
lines = []
for name, value in env.items():
    if name == "VODSIGN_CONFIG":
        value = os.path.join(work, "k8s-vodsign.toml")
    elif value.startswith(secret_mount.rstrip("/") + "/"):
        value = os.path.join(secret_dir, os.path.relpath(value, secret_mount))
    lines.append(f"{name}={value}\n")
open(os.path.join(work, "k8s.env"), "w").write("".join(lines))
PY
for f in secret_id secret_key; do
    grep -q "=$SECRET_DIR/$f\$" "$WORK/k8s.env" || fail "kubernetes: the Deployment does not read $f from the VOD Secret"
done
start_redis k8s
cp "$WORK/k8s.env" "$WORK/k8s.run.env"
add_test_key "$WORK/k8s.run.env"
serve_until_ready kubernetes "$WORK/k8s.run.env" "$(sed -n 1p "$WORK/k8s-probes")"
live_path="$(sed -n 2p "$WORK/k8s-probes")"
[[ "$(status_of "http://127.0.0.1:$PORT$live_path")" == 200 ]] || fail "kubernetes: liveness path $live_path is not 200"
# One signature: the policy's limits must be counted in the Redis, not in memory.
headers="$(curl -s -D - -o /dev/null --max-time 5 -H "Authorization: Bearer $API_KEY" "http://127.0.0.1:$PORT/v1/signature")"
grep -q '^HTTP/1.1 200' <<<"$headers" || fail "kubernetes: GET /v1/signature did not answer 200: $headers"
grep -qi '^ratelimit' <<<"$headers" || fail "kubernetes: the signature answer has no RateLimit header: $headers"
[[ -n "$(redis-cli -p "$REDIS_PORT" --scan --pattern 'vodsign:*' | head -n1)" ]] \
    || fail "kubernetes: the signature request left no counter in Redis"
say "kubernetes: a signature was issued and counted in Redis"
# Reload as the docs tell operators to (kubectl exec POD -- vodsign reload): no kill in the image.
# The container's own environment, so the command finds the admin listener from the config.
(mapfile -t vars <"$WORK/k8s.run.env" && exec env -i PATH="$PATH" HOME="$WORK" "${vars[@]}" "$bin" reload) >&2 \
    || fail "kubernetes: vodsign reload against the admin listener failed"
say "kubernetes: vodsign reload reloaded the configuration"
# The metric names this instance exports, for the observability check below.
curl -sf --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" | sed -nE 's/^# TYPE ([a-z_:]+) .*/\1/p' >"$WORK/scraped-names" \
    || fail "kubernetes: GET /metrics on the admin listener failed"

# --- uploads -----------------------------------------------------------------------------
say "uploads: docker-compose config on compose.yaml + compose.uploads.yaml"
cp deploy/compose.uploads.yaml "$WORK/compose/deploy/"
for f in store_url context_key postgres_password; do
    printf 'placeholder' >"$WORK/compose/deploy/secrets/$f"
done
(cd "$WORK" && docker-compose -f "$WORK/compose/deploy/compose.yaml" -f "$WORK/compose/deploy/compose.uploads.yaml" config) \
    >"$WORK/compose-uploads.rendered.yaml" || fail "uploads: docker-compose config refused compose.uploads.yaml"
python3 - "$WORK/compose-uploads.rendered.yaml" "$WORK/compose/" "$WORK/compose-uploads.secrets" "$WORK/compose-uploads.env" <<'PY' || fail "uploads: the compose override does not fit together"
import os, sys, yaml
rendered, base, secrets_out, env_out = sys.argv[1:]
doc = yaml.safe_load(open(rendered))
paths = []
for name, secret in doc["secrets"].items():
    path = os.path.realpath(secret["file"])
    if not path.startswith(os.path.realpath(base) + os.sep):
        sys.exit(f"secret {name} resolves outside the checkout: {path}")
    paths.append(os.path.relpath(path, os.path.realpath(base)))
open(secrets_out, "w").write("\n".join(paths) + "\n")
services = doc["services"]
used = lambda s: {x["source"] if isinstance(x, dict) else x for x in services[s].get("secrets", [])}
if not {"store_url", "context_key", "vod_secret_id", "vod_secret_key"} <= used("vodsign"):
    sys.exit(f"the vodsign service uses secrets {sorted(used('vodsign'))}")
if used("postgres") != {"postgres_password"}:
    sys.exit(f"the postgres service uses secrets {sorted(used('postgres'))}")
if "postgres" not in services["vodsign"].get("depends_on", {}):
    sys.exit("vodsign does not wait for postgres")
env = services["vodsign"]["environment"]
want = {"VODSIGN_UPLOADS__ENABLED": "true", "VODSIGN_STORE_URL_FILE": "/run/secrets/store_url",
        "VODSIGN_CONTEXT_KEY_FILE": "/run/secrets/context_key"}
for k, v in want.items():
    if str(env.get(k)).lower() != v:
        sys.exit(f"vodsign's {k} is {env.get(k)!r}, not {v!r}")
if services["postgres"]["environment"].get("POSTGRES_PASSWORD_FILE") != "/run/secrets/postgres_password":
    sys.exit("postgres does not read its password from the postgres_password secret")
open(env_out, "w").write("".join(f"{k}={v}\n" for k, v in env.items()))
PY
while read -r secret; do
    case "$secret" in
    deploy/secrets/*) git check-ignore -q --no-index "$secret" || fail "uploads: $secret is not git-ignored" ;;
    *) fail "uploads: secret file resolves to $secret, not under deploy/secrets/" ;;
    esac
done <"$WORK/compose-uploads.secrets"
say "uploads: the compose override renders; its secrets are under deploy/secrets/ (git-ignored)"

say "uploads: kubectl kustomize with components/uploads + kubernetes-validate --strict ($K8S_VERSION)"
mkdir -p "$WORK/overlay-uploads"
printf 'resources: [../base]\ncomponents: [../base/components/uploads]\n' >"$WORK/overlay-uploads/kustomization.yaml"
kubectl kustomize "$WORK/overlay-uploads" >"$WORK/k8s-uploads.yaml"
kubernetes-validate --quiet --strict -k "$K8S_VERSION" "$WORK/k8s-uploads.yaml" \
    || fail "uploads: the manifests with the uploads component do not validate"
UPLOAD_SECRETS="$WORK/upload-secrets"
python3 - "$WORK/k8s-uploads.yaml" "$WORK" "$UPLOAD_SECRETS" <<'PY' || fail "uploads: the uploads component does not fit together"
import os, sys, yaml
rendered, work, upload_secrets = sys.argv[1:]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
deploy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "vodsign")
pod = deploy["spec"]["template"]["spec"]
container = next(c for c in pod["containers"] if c["name"] == "vodsign")
env = {e["name"]: e["value"] for e in container["env"]}
mounts = {m["mountPath"].rstrip("/"): m["name"] for m in container["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
if env.get("VODSIGN_UPLOADS__ENABLED") != "true":
    sys.exit("the component does not set VODSIGN_UPLOADS__ENABLED=true")
# Each secret file variable names a key of a mounted Secret; here <dir>/<secret>/<key>.
def secret_file(var, secret, key):
    path = env.get(var)
    if not path:
        sys.exit(f"the component does not set {var}")
    source = volumes.get(mounts.get(os.path.dirname(path)), {}).get("secret")
    if not source or source["secretName"] != secret or os.path.basename(path) != key:
        sys.exit(f"{var}={path} is not the key {key} of the Secret {secret}")
    return os.path.join(upload_secrets, secret, key)
component = {
    "VODSIGN_UPLOADS__ENABLED": "true",
    "VODSIGN_STORE_URL_FILE": secret_file("VODSIGN_STORE_URL_FILE", "vodsign-store", "url"),
    "VODSIGN_CONTEXT_KEY_FILE": secret_file("VODSIGN_CONTEXT_KEY_FILE", "vodsign-context-key", "key"),
}
# The base's environment as the kubernetes check ran it (paths already local), plus the
# component's variables; any other variable the component added is an error here.
base = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(work, "k8s.env")))
extra = set(env) - set(base) - set(component)
if extra:
    sys.exit(f"the component sets variables this check does not know: {sorted(extra)}")
base.update(component)
open(os.path.join(work, "k8s-uploads.env"), "w").write("".join(f"{k}={v}\n" for k, v in base.items()))
PY
say "uploads: the component validates; the store URL and the context key come from the Secrets vodsign-store and vodsign-context-key"

# A throwaway PostgreSQL: passwords checked over TCP, so the store URL's must be right.
PG_BIN="$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1)")"
PG_DIR="$(mktemp -d)"
PG_PORT="$(free_port)"
PG_PASSWORD="pw$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
if [[ $(id -u) == 0 ]]; then chown postgres "$PG_DIR"; fi
pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log" >&2; fail "uploads: initdb failed"; }
pg_as_owner timeout 60 "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 30 -l "$PG_DIR/server.log" start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; fail "uploads: PostgreSQL did not start"; }
psql_local() { psql -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres "$@"; }
psql_local -d postgres -c "CREATE ROLE vodsign LOGIN PASSWORD '$PG_PASSWORD'" -c "CREATE DATABASE vodsign OWNER vodsign" \
    || fail "uploads: could not create the vodsign role and database"
say "uploads: PostgreSQL $("$PG_BIN/postgres" --version | sed -n 's|.*(PostgreSQL) \([0-9.]*\).*|\1|p') on 127.0.0.1:$PG_PORT"

# Generated secrets as the deployments mount them: the store URL with the role's password,
# a context key as `openssl rand -base64 32` makes.
write_upload_secrets() { # STORE_URL_FILE CONTEXT_KEY_FILE
    mkdir -p "$(dirname "$1")" "$(dirname "$2")"
    printf 'postgres://vodsign:%s@127.0.0.1:%s/vodsign' "$PG_PASSWORD" "$PG_PORT" >"$1"
    head -c 32 /dev/urandom | base64 | tr -d '\n' >"$2"
}

# POST /v1/uploads -> 201, re-sign -> 200, and the row in PostgreSQL. $1 names the check.
prove_uploads() {
    local name=$1 answer status upload_id
    answer="$(curl -s -w '\n%{http_code}' --max-time 5 -X POST -H "Authorization: Bearer $API_KEY" \
        -H 'Content-Type: application/json' -d '{"metadata":{"title":"check-deploy"}}' "http://127.0.0.1:$PORT/v1/uploads")"
    status="$(tail -n1 <<<"$answer")"
    [[ $status == 201 ]] || fail "$name: POST /v1/uploads answered $status: $(head -n1 <<<"$answer")"
    upload_id="$(head -n1 <<<"$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["uploadId"])')"
    answer="$(curl -s -w '\n%{http_code}' --max-time 5 -X POST -H "Authorization: Bearer $API_KEY" \
        "http://127.0.0.1:$PORT/v1/uploads/$upload_id/signature")"
    status="$(tail -n1 <<<"$answer")"
    [[ $status == 200 ]] || fail "$name: POST /v1/uploads/$upload_id/signature answered $status: $(head -n1 <<<"$answer")"
    grep -q '"signaturesIssued":2' <<<"$answer" || fail "$name: the re-sign did not count a second signature: $answer"
    [[ "$(psql_local -d vodsign -tAc "SELECT signatures_issued FROM uploads WHERE id = '$upload_id'")" == 2 ]] \
        || fail "$name: upload $upload_id is not in PostgreSQL with 2 signatures"
    curl -s --max-time 5 "http://127.0.0.1:$PORT/readyz" | grep -q '"store":"up"' \
        || fail "$name: /readyz does not report the store up"
    say "$name: POST /v1/uploads 201 ($upload_id), re-sign 200, the upload in PostgreSQL, /readyz store up"
}

write_upload_secrets "$UPLOAD_SECRETS/vodsign-store/url" "$UPLOAD_SECRETS/vodsign-context-key/key"
start_redis k8s-uploads
cp "$WORK/k8s-uploads.env" "$WORK/k8s-uploads.run.env"
add_test_key "$WORK/k8s-uploads.run.env"
serve_until_ready kubernetes-uploads "$WORK/k8s-uploads.run.env" "$(sed -n 1p "$WORK/k8s-probes")"
prove_uploads kubernetes-uploads

# The compose override: the image's config with the merged compose environment.
write_upload_secrets "$WORK/compose-upload-secrets/store_url" "$WORK/compose-upload-secrets/context_key"
start_redis compose-uploads
{
    echo "VODSIGN_CONFIG=$ROOT/config/vodsign.toml"
    sed -e "s|^VODSIGN_SECRET_ID_FILE=.*|VODSIGN_SECRET_ID_FILE=$SECRET_DIR/secret_id|" \
        -e "s|^VODSIGN_SECRET_KEY_FILE=.*|VODSIGN_SECRET_KEY_FILE=$SECRET_DIR/secret_key|" \
        -e "s|^VODSIGN_STORE_URL_FILE=/run/secrets/|VODSIGN_STORE_URL_FILE=$WORK/compose-upload-secrets/|" \
        -e "s|^VODSIGN_CONTEXT_KEY_FILE=/run/secrets/|VODSIGN_CONTEXT_KEY_FILE=$WORK/compose-upload-secrets/|" \
        -e '/^VODSIGN_LIMITS__REDIS_URL=/d' -e '/^VODSIGN_API_KEYS=/d' "$WORK/compose-uploads.env"
} >"$WORK/compose-uploads.run.env"
add_test_key "$WORK/compose-uploads.run.env"
serve_until_ready compose-uploads "$WORK/compose-uploads.run.env" /readyz
prove_uploads compose-uploads

# --- nginx -------------------------------------------------------------------------------
say "nginx: nginx -t on deploy/nginx.conf"
nginx_version="$(nginx -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')"
sed_args=(-e 's/server vodsign:8080 /server 127.0.0.1:8080 /')
if [[ "$(printf '%s\n1.27.3\n' "$nginx_version" | sort -V | head -n1)" != 1.27.3 ]]; then
    say "nginx: $nginx_version predates the upstream 'resolve' parameter (1.27.3): checking without it"
    sed_args+=(-e 's/ resolve / /')
fi
sed "${sed_args[@]}" deploy/nginx.conf >"$WORK/nginx.conf"
grep -q 'server 127.0.0.1:8080 ' "$WORK/nginx.conf" || fail "nginx: no 'server vodsign:8080' upstream to check"
nginx -t -q -c "$WORK/nginx.conf" -g "pid $WORK/nginx.pid; error_log $WORK/nginx-error.log;" \
    || fail "nginx: nginx -t refused deploy/nginx.conf"

# --- observability -----------------------------------------------------------------------
say "observability: promtool check rules / test rules, the dashboard's queries and metric names"
promtool check rules deploy/observability/alerts.yaml >&2 || fail "observability: alerts.yaml"
(cd deploy/observability && promtool test rules alerts.test.yaml) >&2 || fail "observability: alerts.test.yaml"
python3 - deploy/observability/grafana-dashboard.json "$WORK/dashboard-rules.yaml" <<'PY' || fail "observability: grafana-dashboard.json"
import json, sys, yaml
dashboard = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
walk(dashboard["panels"])
if not exprs:
    sys.exit("the dashboard has no queries")
# Grafana's variables, given values so promtool can parse each query.
def concrete(e):
    return e.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")
rules = [{"record": f"dashboard:query_{i}", "expr": concrete(e)} for i, (_, e) in enumerate(exprs)]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
print(f"{len(exprs)} dashboard queries", file=sys.stderr)
PY
promtool check rules "$WORK/dashboard-rules.yaml" >&2 || fail "observability: a dashboard query does not parse"

# Every metric the dashboard and rules use must be one the service exports: in the scrape of
# the instance above, or (for those recorded only on events: reloads, backend errors, JWKS
# ages, ...) named in src/.
exported() {
    grep -qx "$1" "$WORK/scraped-names" || grep -rqF "\"$1\"" src/
}
names="$(grep -ohE '\b(vodsign|process)_[a-z_]+' deploy/observability/alerts.yaml deploy/observability/grafana-dashboard.json \
    | sed -E 's/_(bucket|count|sum)$//' | sort -u)"
unknown=()
for name in $names; do
    exported "$name" || unknown+=("$name")
done
((${#unknown[@]} == 0)) || fail "observability: neither in the scrape nor named in src/: ${unknown[*]}"
say "observability: all $(wc -w <<<"$names") metric names are exported"
say "all deployment checks passed"
