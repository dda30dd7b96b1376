"""gunicorn's configuration for the gateway, for operators who run gunicorn themselves:

    nvs-gateway migrate                       # the schema to head, once per release (not in every worker)
    gunicorn -c deploy/gunicorn.conf.py

Every value comes from the NVS_* settings, through the function ``nvs-gateway serve`` uses
(``gateway.server.gunicorn_options``): workers (NVS_WORKERS, 0 = one per core) of NVS_THREADS threads
in the SOAP-faulting gthread worker, bound to NVS_HOST:NVS_PORT, a graceful timeout above the
population register's longest wait. ``nvs-gateway serve`` is the same server with the migration in
front (what deploy/nvs-gateway.service and deploy/Dockerfile run); this file is for a gunicorn of your
own, for instance to add a setting of gunicorn's that the gateway does not name (below).

Behind the TLS proxy, set FORWARDED_ALLOW_IPS (gunicorn's own variable) to the proxy's address when
it is not on this machine: gunicorn believes X-Forwarded-Proto (https in the served WSDL's addresses
when NVS_PUBLIC_URL is not set) from those addresses only; the default is loopback.
"""

from gateway.config import Settings
from gateway.server import check_serving_settings, gunicorn_options

_settings = Settings.from_env()
check_serving_settings(_settings)  # the refusals of `nvs-gateway serve`: a graceful timeout shorter than GR's wait
globals().update(gunicorn_options(_settings))

# Each worker builds its own site after the fork (preload_app is off), on the same settings.
wsgi_app = "gateway.server:site_from_environment()"

# Settings of gunicorn's own may follow, e.g. recycling workers:
# max_requests = 10000
# max_requests_jitter = 1000
