"""Apps that let pickle in, each in another way: every worker must refuse to start."""

from stalwart import Stalwart

#: ``accept_content`` with pickle next to JSON (the classic "just add pickle").
accepts = Stalwart("accepts-pickle")
accepts.conf.accept_content = ["json", "pickle"]

#: Results accepted as pickle, by content type.
result_content_type = Stalwart("result-content-type")
result_content_type.conf.result_accept_content = ["json", "application/x-python-serialize"]

#: Tasks serialized with pickle.
serializes = Stalwart("serializes-pickle")
serializes.conf.task_serializer = "pickle"

#: One task that asks for pickle itself.
one_task = Stalwart("one-task-pickle")


@one_task.task(serializer="pickle")
def legacy(x: int) -> int:
    return x
