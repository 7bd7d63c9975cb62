-- wrk script: POST one row to the bare insert endpoint.
wrk.method = "POST"
wrk.body = '{"payload": "row"}'
wrk.headers["Content-Type"] = "application/json"
