import os

from flask import Flask

app = Flask(__name__)
GREETING = os.environ.get("GREETING", "Hello from my-app")


@app.route("/")
def hello():
    return GREETING + " (v2, with numpy: %s)" % __import__("numpy").__version__


@app.route("/healthz")
def healthz():
    return "ok"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
