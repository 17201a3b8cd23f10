"""The reference server: `datamint serve` speaks the Datamint REST API from a local store.

Layers, each calling only downward::

    app.py                    create_app(store_dir): FastAPI app, error handlers, request log
    routes_*.py               one router per endpoint group: reads in
                              routes_{projects,resources,annotations,worklists,splits,datasets},
                              writes in routes_resource_writes and routes_annotation_writes
    guard.py                  ASGI middleware: API key before any body byte, bounded bodies
                              (413), strict JSON (422 for NaN, Infinity, lone surrogates)
    deps.py, files.py         shared route glue (user, ids, access as 404, paging); ETag/Range
    listing.py                cached match lists per (user, filter, store generation); JSON
                              responses spliced from stored records
    uploads.py                multipart bodies streamed into <store>/tmp, hashed on the way;
                              per-file limit and per-user quota
    strict_json.py            JSON parsing that refuses what cannot be stored or sent back
    log_safety.py             control characters escaped in every log line
    maintenance.py            orphaned staging and unreferenced blobs removed (on start, gc)
    models.py                 pydantic models of the wire shapes (the OpenAPI schema)
    masks.py                  segmentation uploads: checked against the resource, one label
                              per file
    metadata.py               mimetype, storage and metadata (frame_count, ...) from headers
    worklist_specs.py         worklist records from request bodies
    auth.py                   API keys (stored as sha256) -> user email
    importer.py               project.json (format datamint-project-manifest v1) -> store
    import_folder.py          a plain folder, masks by name (<image>__<label>__<annotator>)
    import_common.py          derived ids, metadata filling, created_at stamps
    series_dicom.py           a DICOM series (files or a ZIP) -> one multi-frame DICOM
    synthetic.py              generated projects of any size (tests, benchmarks)
    store/                    ProjectStore: one SQLite repository per concern + BlobStore
    blobs.py                  BlobStore: files named by their sha256, written atomically
    timeutil.py               ISO-8601 UTC timestamps (emit with microseconds, parse any)
    errors.py                 ApiError (HTTP) and ManifestError (import)

Only ``app``, ``deps``, ``files``, ``guard``, ``listing``, ``uploads`` and the routers import
FastAPI or Starlette (the ``server`` extra); the store, the importers and the key handling do
not.
"""
