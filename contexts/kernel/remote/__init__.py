"""The hop between deployments: the internal HTTP API and the remote adapters calling it.

A deployment serves, for each context it runs, that context's internal API
under ``/internal/v1/<context>/`` (``contexts/<context>/internal_api.py``,
mounted by ``config/internal_urls.py``), and a deployment that does not run a
context calls it through ``contexts/<context>/remote.py``, which its
``public`` module picks (``contexts.kernel.deployment.runs_here``). This
package holds what both sides share:

- ``auth``: ``Authorization: Service <SERVICE_TOKEN>`` between services
  (never the customer JWT); a missing or wrong token is 401 JSON;
- ``views``: the base view of internal endpoints (that authentication, no
  throttling, domain errors answered with their class name);
- ``codec``: contract types (frozen dataclasses, enums, UUIDs, decimals,
  datetimes) to JSON and back;
- ``client``: ``RemoteContext``, the HTTP client of one context: timeouts,
  retries of calls that change nothing (or carry an idempotency key), the
  correlation id, and transport failures raised as the contract's own
  retryable error;
- ``schema``: the OpenAPI components of contract types and the hook that keeps
  internal endpoints out of the public ``/api/schema/``.

docs/extracting-a-context.md walks through adding a context's side.
"""
