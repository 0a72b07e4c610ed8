#!/usr/bin/env python3
"""A small СЭД client for medo-gateway, standard library only (docs/INTEGRATION.md).

It polls the changes feed and, for each appeal that arrives:
  1. imports it: the appeal's card (JSON) and every file it arrived with, each checked
     against its SHA-256;
  2. registers it under the СЭД's own number (СЭД-<id>), dated today in the agency's zone
     (no date sent: the gateway's today — a date taken from this machine's clock would be
     yesterday's from 21:00 UTC on, for an agency in Moscow, and refused);
and once the appeal is registered:
  3. names an executor;
  4. answers it with a PDF (multipart/form-data);
and it reports the steps it sees УРОГ told about (`appeal_step` in the feed).

Crash-safe by construction: the cursor is saved (atomically) only after an item is handled;
every write carries an Idempotency-Key derived from the appeal and the step, so an item
handled again after a crash of either side changes nothing twice.

    MEDO_TOKEN=… python3 sed_client.py --url http://127.0.0.1:8080 --state state.json \\
        --out imported --answer answer.pdf [--until-idle SECONDS]
"""

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class Api:
    """The gateway's СЭД API: JSON in and out, problem details raised as ApiError."""

    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, key=None, content_type="application/json"):
        headers = {"Authorization": "Bearer " + self.token}
        if key:
            headers["Idempotency-Key"] = key
        if body is not None:
            headers["Content-Type"] = content_type
            if content_type == "application/json":
                body = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, e.read()) from None

    def json(self, method, path, body=None, key=None, content_type="application/json"):
        status, _, data = self.call(method, path, body, key, content_type)
        return status, json.loads(data)


class ApiError(Exception):
    def __init__(self, status, body):
        try:
            self.problem = json.loads(body)
        except ValueError:
            self.problem = {"detail": body.decode("utf-8", "replace")}
        super().__init__("%s: %s" % (status, self.problem.get("detail")))
        self.status = status


def segment(text):
    return urllib.parse.quote(str(text), safe="")


def save_state(path, state):
    """Writes the state (the cursor) so that a crash leaves the old or the new one whole."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"cursor": ""}


def import_appeal(api, appeal_id, out):
    """The appeal's card and files into out/<id>/ (written again harmlessly after a crash)."""
    _, detail = api.json("GET", "/api/v1/appeals/%s" % segment(appeal_id))
    folder = os.path.join(out, str(appeal_id))
    os.makedirs(folder, exist_ok=True)
    for f in detail["appeal"]["files"]:
        path = "/api/v1/appeals/%s/files/%s" % (segment(appeal_id), segment(f["name"]))
        _, headers, data = api.call("GET", path)
        digest = hashlib.sha256(data).hexdigest()
        if digest != f["sha256"] or headers["ETag"] != '"%s"' % digest:
            raise RuntimeError("file %s of appeal %s is not the one that arrived" % (f["name"], appeal_id))
        with open(os.path.join(folder, os.path.basename(f["name"])), "wb") as target:
            target.write(data)
    with open(os.path.join(folder, "appeal.json"), "w", encoding="utf-8") as card:
        json.dump(detail, card, ensure_ascii=False, indent=1)
    return detail


def register(api, appeal_id):
    # the date left to the gateway: today in the agency's zone ([gateway] utc_offset)
    body = {"number": "СЭД-%s" % appeal_id}
    path = "/api/v1/appeals/%s/registration" % segment(appeal_id)
    try:
        return api.json("POST", path, body, key="register-%s" % appeal_id)
    except ApiError as e:
        if e.status != 409:
            raise
        # the key was used for another registration request of this appeal (by hand, say):
        # if the appeal is registered, that is what this step wanted — carry on with it
        _, detail = api.json("GET", "/api/v1/appeals/%s" % segment(appeal_id))
        if detail["appeal"].get("number") is None:
            raise
        return 200, {"applied": True, "number": detail["appeal"]["number"], "resolved": True}


def multipart(event, file_name, data):
    """A multipart/form-data body: the part `event` (JSON) and the part `file`."""
    boundary = uuid.uuid4().hex
    # the name as browsers send it: UTF-8, only the quote and line breaks escaped
    quoted = file_name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    parts = [
        b"--" + boundary.encode(),
        b'Content-Disposition: form-data; name="event"',
        b"Content-Type: application/json",
        b"",
        json.dumps(event).encode("utf-8"),
        b"--" + boundary.encode(),
        ('Content-Disposition: form-data; name="file"; filename="%s"' % quoted).encode("utf-8"),
        b"Content-Type: application/pdf",
        b"",
        data,
        b"--" + boundary.encode() + b"--",
        b"",
    ]
    return b"\r\n".join(parts), "multipart/form-data; boundary=" + boundary


def work_on(api, appeal_id, answer_pdf):
    """A registered appeal: an executor, then the answer with its PDF."""
    path = "/api/v1/appeals/%s/events" % segment(appeal_id)
    executor = {"step": "executor-assigned", "executor": "Иванов И.И.", "post": "консультант"}
    api.json("POST", path, executor, key="executor-%s" % appeal_id)
    with open(answer_pdf, "rb") as f:
        body, kind = multipart({"step": "answered", "result": "explained"}, "Ответ.pdf", f.read())
    return api.json("POST", path, body, key="answer-%s" % appeal_id, content_type=kind)


def handle(api, item, args):
    """One change of the feed. Returns a line for the log."""
    change, appeal = item["change"], item.get("appeal")
    if change == "appeal_arrived":
        import_appeal(api, appeal, args.out)
        try:
            status, result = register(api, appeal)
        except ApiError as e:
            if e.status != 422:
                raise
            return "appeal %s imported; not registered: %s" % (appeal, e.problem["detail"])
        return "appeal %s imported and registered as СЭД-%s (%s)" % (appeal, appeal, status)
    if change == "appeal_registered":
        status, _ = work_on(api, appeal, args.answer)
        return "appeal %s (%s): executor named, answered (%s)" % (appeal, item.get("number"), status)
    if change == "appeal_step":
        return "appeal %s: УРОГ told of the step %s" % (appeal, item.get("detail"))
    return "%s: %s" % (change, json.dumps(item, ensure_ascii=False))


def poll(api, args):
    """Polls until stopped, or until the feed has been empty for --until-idle seconds."""
    state = load_state(args.state)
    idle_since = time.monotonic()
    while True:
        _, page = api.json("GET", "/api/v1/changes?after=%s&limit=100" % segment(state["cursor"]))
        for item in page["items"]:
            print(handle(api, item, args), flush=True)
            state["cursor"] = item["cursor"]
            save_state(args.state, state)
        if page["next"] != state["cursor"]:
            state["cursor"] = page["next"]
            save_state(args.state, state)
        if page["items"]:
            idle_since = time.monotonic()
        elif args.until_idle is not None and time.monotonic() - idle_since >= args.until_idle:
            return
        else:
            time.sleep(args.interval)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the gateway's operators' listener")
    p.add_argument("--state", required=True, help="where the cursor is kept")
    p.add_argument("--out", required=True, help="where imported appeals go")
    p.add_argument("--answer", required=True, help="the PDF each appeal is answered with")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    p.add_argument("--until-idle", type=float, help="stop after this many seconds without changes")
    args = p.parse_args()
    token = os.environ.get("MEDO_TOKEN")
    if not token:
        sys.exit("MEDO_TOKEN: the client's token (medo-gateway api token NAME)")
    poll(Api(args.url, token), args)


if __name__ == "__main__":
    main()
