#!/usr/bin/env bash
# Checks what this machine can check of the deployment kit (docs/operations.md, "What was checked"):
#   nginx -t on deploy/nginx/nvs-gateway.conf, then nginx itself in front of a sandbox gateway (TLS with a
#   throw-away certificate, the forwarded scheme in the served WSDL, a SOAP call, the body limits);
#   systemd-analyze verify on the units; the compose file (docker compose config, else its YAML and
#   references); hadolint on the Dockerfile when installed. Skips, and says so, what is not installed.
# Usage: deploy/check-kit.sh            (NVS_GATEWAY=path/to/nvs-gateway, default .venv/bin/nvs-gateway)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
gateway_bin=${NVS_GATEWAY:-$root/.venv/bin/nvs-gateway}
work=$(mktemp -d /tmp/nvs-check-kit.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ok() { echo "  [ok] $*"; }
fail() { echo "  [FAILED] $*"; failed=1; }
failed=0

echo "nginx"
if command -v nginx >/dev/null; then
    gw_port=$(free_port); https_port=$(free_port); http_port=$(free_port)
    mkdir -p "$work/nginx/tls" "$work/nginx/logs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -keyout "$work/nginx/tls/mr.example.lt.key" -out "$work/nginx/tls/mr.example.lt.pem" 2>/dev/null
    # The kit's file, with this machine's ports, certificate and gateway address: nothing else changed.
    sed -e "s#/etc/nginx/tls/#$work/nginx/tls/#" -e "s#server gateway:8080#server 127.0.0.1:$gw_port#" \
        -e "s#listen 443 ssl;#listen $https_port ssl;#" -e "s#listen \[::\]:443 ssl;##" \
        -e "s#listen 80;#listen $http_port;#" -e "s#listen \[::\]:80;##" \
        "$here/nginx/nvs-gateway.conf" > "$work/nginx/nvs-gateway.conf"
    cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 64; }
http {
    access_log $work/nginx/logs/access.log;
    client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
    include $work/nginx/nvs-gateway.conf;
}
CONF
    if nginx -t -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx-t.txt"; then ok "nginx -t: $(tail -1 "$work/nginx-t.txt")"; else cat "$work/nginx-t.txt"; fail "nginx -t"; fi
    if [ -x "$gateway_bin" ]; then
        mkdir "$work/gateway"
        (cd "$work/gateway" && NVS_PORT=$gw_port NVS_WORKERS=2 NVS_THREADS=2 NVS_DATABASE_URL=sqlite:///$work/gateway/nvs.db \
            exec "$gateway_bin" serve --sandbox >"$work/gateway.log" 2>&1) & pids+=($!)
        nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & pids+=($!)
        for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$gw_port/health" && break; sleep 1; done
        base="https://localhost:$https_port"
        wsdl=$(curl -sk "$base/registry?wsdl" | grep -o 'soap:address location="[^"]*"' || true)
        [ "$wsdl" = "soap:address location=\"$base/registry\"" ] && ok "WSDL through nginx names $base/registry (X-Forwarded-Proto, Host)" || fail "WSDL address through nginx: $wsdl"
        envelope='<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1"><soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>sandbox-300000011</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">Sandbox-300000011!</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><nvs:LookupPerson><nvs:personalCode>51509150009</nvs:personalCode></nvs:LookupPerson></soapenv:Body></soapenv:Envelope>'
        answer=$(curl -sk -w '\n%{http_code}' -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$envelope" "$base/registry")
        [[ "$answer" == *"<tns:firstName>Adomas</tns:firstName>"*$'\n'200 ]] && ok "LookupPerson over TLS through nginx: 200, Adomas" || fail "LookupPerson through nginx: ${answer: -300}"
        python3 -c "import sys; sys.stdout.write('<x>' + 'a' * 1_500_000 + '</x>')" > "$work/big.xml"
        python3 -c "import sys; sys.stdout.write('<x>' + 'a' * 3_000_000 + '</x>')" > "$work/huge.xml"
        big=$(curl -sk -w '\n%{http_code}' -H 'Content-Type: text/xml' --data-binary @"$work/big.xml" "$base/registry")
        [[ "$big" == *"RequestTooLarge"* ]] && ok "1.5 MB body: the gateway's RequestTooLarge fault (HTTP ${big##*$'\n'}), not nginx's page" || fail "1.5 MB body: ${big: -200}"
        huge=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' --data-binary @"$work/huge.xml" "$base/registry")
        [ "$huge" = 413 ] && ok "3 MB body: nginx's 413 (client_max_body_size 2m)" || fail "3 MB body: $huge"
        plain=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/registry?wsdl")
        [[ "$plain" == 308* ]] && ok "plain HTTP: $plain" || fail "plain HTTP: $plain"
        metrics=$(curl -sk -o /dev/null -w '%{http_code}' -H 'X-Forwarded-For: 10.1.1.1' "$base/metrics")
        echo "  [info] /metrics from 127.0.0.1 through nginx: $metrics (allowed from loopback and 10/8)"
    else
        echo "  [skipped] nginx in front of a gateway: no $gateway_bin"
    fi
else
    echo "  [skipped] nginx is not installed (apt-get install nginx-light)"
fi

echo "systemd"
if command -v systemd-analyze >/dev/null; then
    exe=$(command -v "$gateway_bin" || echo /bin/true)
    mkdir "$work/units"
    for unit in nvs-gateway.service nvs-gateway-purge.service nvs-gateway-purge.timer; do
        sed "s#/opt/nvs-gateway/bin/nvs-gateway#$exe#" "$here/$unit" > "$work/units/$unit"
    done
    if out=$(cd "$work/units" && systemd-analyze verify ./nvs-gateway.service ./nvs-gateway-purge.service ./nvs-gateway-purge.timer 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify: the three units (ExecStart pointed at $exe)"
    else echo "$out"; fail "systemd-analyze verify"; fi
else
    echo "  [skipped] systemd-analyze is not installed"
fi

echo "compose"
if docker compose version >/dev/null 2>&1; then
    NVS_DB_PASSWORD=x docker compose -f "$here/compose.yaml" config -q && ok "docker compose config" || fail "docker compose config"
else
    python3 - "$here/compose.yaml" <<'PY' && ok "compose.yaml: YAML, services and references (docker compose is not installed: not run)" || fail "compose.yaml"
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
services = spec["services"]
assert set(services) == {"postgres", "migrate", "gateway", "proxy"}, services
for name, service in services.items():
    for needed in service.get("depends_on", {}):
        assert needed in services, (name, needed)
    for network in service.get("networks", []):
        assert network in spec["networks"], (name, network)
assert services["gateway"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
assert services["migrate"]["command"] == ["migrate"]
assert services["gateway"]["environment"]["NVS_DATABASE_URL"].startswith("postgresql+psycopg://")
PY
fi

echo "Dockerfile"
if command -v hadolint >/dev/null; then
    hadolint "$here/Dockerfile" && ok "hadolint" || fail "hadolint"
else
    echo "  [skipped] hadolint is not installed; docker build not run (no docker daemon here)"
fi
[ "$failed" = 0 ] && echo "check-kit: every check that ran holds" || { echo "check-kit: FAILED"; exit 1; }
