"""The local web server: a Flask app on Werkzeug's threaded server, in a daemon thread.

Flask (on Werkzeug) because it is synchronous: a WSGI server runs in a
plain thread beside a blocking cleaner, in a script, the CLI or a Jupyter
kernel, and touches no asyncio loop (Jupyter's kernel already runs one, which
an ASGI server started in the same process would have to share).  It
listens on 127.0.0.1 only; every request must carry the secret token (the
page's URL holds it; the page sends it back in a header), else 403.
"""

import logging
import secrets
import threading
from importlib import resources

from ._board import Busy


def _flask():
    try:
        import flask
        from werkzeug.serving import WSGIRequestHandler, make_server
    except ImportError as exc:  # the optional extra
        raise ImportError("WebOracle needs Flask: pip install 'skclean[web]'.") from exc
    return flask, WSGIRequestHandler, make_server


def create_app(board, token):
    """The Flask app serving the page and its JSON API over ``board``."""
    flask, _, _ = _flask()
    app = flask.Flask("skclean.web")
    page = resources.files("skclean.web").joinpath("review.html").read_text(encoding="utf-8")

    def error(status, message):
        return flask.jsonify({"error": message}), status

    @app.before_request
    def check_token():
        given = (flask.request.headers.get("X-Skclean-Token")
                 or flask.request.args.get("token") or "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return error(403, "This review needs the link with its token (printed where the "
                              "cleaner runs).")
        return None

    @app.after_request
    def no_cache(response):  # a reload always shows the state as the cleaner has it
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def index():
        return flask.Response(page, mimetype="text/html")

    @app.get("/api/state")
    def state():
        return flask.jsonify(board.snapshot())

    def relay(kind):
        payload = flask.request.get_json(silent=True)
        if not isinstance(payload, dict):
            return error(400, "The request must be a JSON object.")
        try:
            status, body = board.post(kind, payload)
        except Busy as exc:
            return error(503, str(exc))
        return flask.jsonify(body), status

    app.post("/api/answer")(lambda: relay("answer"))
    app.add_url_rule("/api/undo", "undo", lambda: relay("undo"), methods=["POST"])
    app.add_url_rule("/api/send", "send", lambda: relay("send"), methods=["POST"])

    @app.post("/api/stop")
    def stop():
        board.request_stop()
        return flask.jsonify({"ok": True})

    @app.errorhandler(Exception)
    def failed(exc):  # shown to the person as it is; nothing was applied
        code = getattr(exc, "code", 500)
        return error(code if isinstance(code, int) else 500,
                     f"The server failed ({type(exc).__name__}: {exc}); nothing was changed.")

    return app


class Server:
    """``create_app`` served on 127.0.0.1 in a daemon thread until :meth:`shutdown`."""

    def __init__(self, board, port=None):
        _, handler, make_server = _flask()

        class Quiet(handler):  # the cleaner's terminal is the person's, not a request log
            def log_request(self, *args, **kwargs):
                pass

        self.token = secrets.token_urlsafe(24)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", port or 0, create_app(board, self.token),
                                   threaded=True, request_handler=Quiet)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"skclean-web-{self.port}")
        self._thread.start()

    def shutdown(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
