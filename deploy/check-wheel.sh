#!/usr/bin/env bash
# The wheel builds, installs into a clean venv and serves: WSDL, a schema and a SOAP call answered by the
# installed gateway, run in an empty directory (nothing of the checkout on its path). `make check-wheel`.
#   CHECK_WHEEL_VENV=/tmp/wheelvenv deploy/check-wheel.sh    reuses a venv (the dependencies take a while)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$(command -v python3.11)}
work=$(mktemp -d /tmp/nvs-check-wheel.XXXXXX)
venv=${CHECK_WHEEL_VENV:-$work/venv}
server=
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

started=$(date +%s)
"$root/.venv/bin/pip" wheel --quiet --no-deps "$root" -w "$work/dist" 2>&1 | grep -v "is ignored" || true
rm -rf "$root/build"
wheel=$(ls "$work"/dist/nvs_gateway-*.whl)
echo "built $(basename "$wheel") in $(( $(date +%s) - started )) s"
listing=$(unzip -Z1 "$wheel")
for needed in gateway/faults.toml gateway/_files/wsdl/nvs-gateway-v1.wsdl gateway/_files/xsd/nvs-gateway-v1.xsd \
    gateway/_files/data/classifiers/classifiers.toml gateway/_files/data/rates/basket-rates.xml \
    gateway/_files/data/sandbox/institutions.xml storage/migrations/env.py storage/migrations/script.py.mako; do
    grep -qx "$needed" <<<"$listing" || { echo "the wheel lacks $needed"; exit 1; }
done
migrations=$(grep -c '^storage/migrations/versions/.*\.py$' <<<"$listing")
[ "$migrations" = "$(ls "$root"/storage/migrations/versions/*.py | wc -l)" ] || { echo "the wheel lacks migrations"; exit 1; }
echo "the wheel holds the contract, the data files, faults.toml and $migrations migrations"

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$wheel" 2>&1 | grep -v "is ignored" || true
"$venv/bin/pip" install --quiet "$wheel" 2>&1 | grep -v "is ignored" || true
mkdir "$work/run"
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/run" && NVS_PORT=$port NVS_WORKERS=2 NVS_THREADS=2 exec "$venv/bin/nvs-gateway" serve --sandbox >"$work/serve.log" 2>&1) &
server=$!
for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 1; done
base="http://127.0.0.1:$port"
curl -sf "$base/registry?wsdl" | grep -q 'soap:address location="'"$base"'/registry"' || { tail -20 "$work/serve.log"; echo "no WSDL"; exit 1; }
curl -sf -o /dev/null "$base/xsd/nvs-gateway-v1.xsd" || { echo "no schema"; exit 1; }
envelope='<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1"><soapenv:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>sandbox-300000011</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">Sandbox-300000011!</wsse:Password></wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><nvs:LookupPerson><nvs:personalCode>51509150009</nvs:personalCode></nvs:LookupPerson></soapenv:Body></soapenv:Envelope>'
curl -sf -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$envelope" "$base/registry" | grep -q '<tns:firstName>Adomas</tns:firstName>' \
    || { tail -20 "$work/serve.log"; echo "LookupPerson failed"; exit 1; }
site=$(cd "$work/run" && "$venv/bin/python" -c 'import gateway.config as c; print(c.FILES_ROOT)')
case "$site" in "$venv"/*) ;; *) echo "the installed gateway reads its files from $site, not the venv"; exit 1 ;; esac
echo "installed in a clean venv; 'nvs-gateway serve --sandbox' from $work/run (files from $site):"
echo "  WSDL, schema and LookupPerson answered (gunicorn, 2 workers): check-wheel holds"
