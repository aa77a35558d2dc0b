"""A boto3 consumer for the SQS tests: reads and deletes what arrives."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, List


class Consumer:
    """Receives (and deletes) messages from a queue, on demand or in a thread."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.url = queue_url
        self.messages: List[Dict[str, Any]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []

    @property
    def records(self) -> List[Dict[str, Any]]:
        out = []
        with self._lock:
            messages = list(self.messages)
        for message in messages:
            out.extend(json.loads(line) for line in message["Body"].split("\n") if line)
        return out

    def poll(self) -> int:
        got = self.client.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
            AttributeNames=["All"], WaitTimeSeconds=0,
        ).get("Messages", [])
        if got:
            with self._lock:
                self.messages.extend(got)
            self.client.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )
        return len(got)

    def collect(self, count: int, timeout: float = 30.0) -> List[Dict[str, Any]]:
        """Poll until ``count`` records were received or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            if not self.poll():
                time.sleep(0.05)
        return self.records

    def start(self, threads: int = 3) -> "Consumer":
        """Drain in the background with several threads: moto's calls get slower
        as a queue grows, and a consumer makes two calls per ten messages."""

        def run() -> None:
            deadline = time.monotonic() + 300
            while not self._stop.is_set() and time.monotonic() < deadline:
                if not self.poll():
                    self._stop.wait(0.05)

        for index in range(threads):
            thread = threading.Thread(target=run, name=f"sqs-consumer-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
