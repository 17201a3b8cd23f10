"""The reference server: `datamint serve` speaks the Datamint REST API from a local store.

Layers, each calling only downward::

    app.py              create_app(store_dir): FastAPI app, error handlers, request log
    routes_*.py         one router per endpoint group (contract/API.md §4)
    deps.py, files.py   shared route glue (user, ids, access, paging); ETag/Range file responses
    auth.py             API keys (stored as sha256) -> user email
    importer.py         project.json (format datamint-project-manifest v1) -> store
    store.py            ProjectStore: SQLite records (users, members, projects, splits, ...)
    blobs.py            BlobStore: files named by their sha256, written atomically
    timeutil.py         ISO-8601 UTC timestamps (emit with microseconds, parse any)
    errors.py           ApiError (HTTP) and ManifestError (import)

Only ``app``, ``deps``, ``files`` and the routers import FastAPI (the ``server`` extra); the
store, the importer and the key handling do not.
"""
