"""Local test of the plugin class against a webhook on this machine, no server or sandbox:
``python -m unittest test_webhook_notifier`` in this folder. A tiny HTTP server on 127.0.0.1
records what the plugin posts."""

import json
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

sys.dont_write_bytecode = True  # keep __pycache__ out of the plugin folder (and its tarball)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_notifier import WebhookNotifier, summarise  # noqa: E402 (after the path set-up)


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Hook.received.append((self.path, self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(Hook.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class WebhookNotifierTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = HTTPServer(("127.0.0.1", 0), Hook)
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}/hooks/T0?x=1"
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        Hook.received.clear()
        Hook.status = 200

    def run_plugin(self, data, **parameters):
        plugin = WebhookNotifier({"plugin_id": "webhook_notifier", "config": {"webhook_url": self.url}})
        return plugin.execute({"data": data, "parameters": parameters, "extension_point": "integration"})

    def test_posts_a_summary_of_records(self):
        records = [{"region": "north", "sales": 120}, {"region": "south", "sales": 80}]
        result = self.run_plugin(records, message="Daily sales", include_rows=1)
        self.assertEqual(result["errors"], [])
        self.assertEqual(result["metadata"]["status"], 200)
        path, content_type, payload = Hook.received[0]
        self.assertEqual((path, content_type), ("/hooks/T0?x=1", "application/json"))
        self.assertEqual(payload["text"], "Daily sales: 2 row(s), columns region, sales")
        self.assertEqual(payload["summary"]["numeric"], {"sales": {"min": 80, "mean": 100.0, "max": 120}})
        self.assertEqual(payload["rows"], records[:1])

    def test_a_refusing_webhook_fails_the_run_with_its_answer(self):
        Hook.status = 403
        result = self.run_plugin([[1, 2], [3, 4]])
        self.assertEqual(result["errors"], ["the webhook answered HTTP 403: ok"])

    def test_unreachable_and_bad_urls(self):
        plugin = WebhookNotifier({"config": {"webhook_url": "http://127.0.0.1:9/hook", "timeout": 2}})
        result = plugin.execute({"data": {"a": [1]}})
        self.assertRegex(result["errors"][0], "could not reach the webhook at 127.0.0.1")
        with self.assertRaisesRegex(ValueError, "webhook_url must be an http"):
            WebhookNotifier({"config": {"webhook_url": "file:///etc/passwd"}}).execute({"data": []})

    def test_summaries_of_every_layout(self):
        self.assertEqual(summarise({"a": [1, 2], "b": ["x", "y"]})["numeric"], {"a": {"min": 1, "mean": 1.5, "max": 2}})
        self.assertEqual(summarise([[1, 2], [3, 4]])["columns"], ["0", "1"])
        self.assertEqual(summarise("hello"), {"type": "str", "rows": None})


if __name__ == "__main__":
    unittest.main()
