"""A local Studio: ``run_pipeline.py --ui`` serves a live web UI over the Target protocol.

Rooms: security.py (token, Host, Origin, CSRF), studio.py (what the UI does, through Target
verbs only), views.py (the presentation's plain data), app.py (the Starlette app and its
routes), server.py (binding 127.0.0.1 and serving), templates/ and static/ (the pages, a
stylesheet and a script shipped in the package: no CDN, no external request).
"""
