"""A stand-in for Powertools Tracer's X-Ray provider that records what a handler would send to X-Ray."""

from __future__ import annotations

import contextlib


class RecordingSubsegment:
    def __init__(self):
        self.metadata: list[tuple] = []

    def put_metadata(self, key, value, namespace="default"):
        self.metadata.append((key, value, namespace))

    def put_annotation(self, key, value):
        pass

    def add_exception(self, exception, stack, remote=False):
        self.metadata.append(("exception", str(exception), ""))


class RecordingProvider:
    def __init__(self):
        self.subsegments: list[RecordingSubsegment] = []

    @contextlib.contextmanager
    def in_subsegment(self, name=None, **_kwargs):
        subsegment = RecordingSubsegment()
        self.subsegments.append(subsegment)
        yield subsegment
