"""PyGObject overrides for Vlm: keyword settings, plain Python values, streaming.

    model = Vlm.Model.load("models/shapes-idefics3")
    result = model.generate("What colour is the largest shape?", images=["a.png"], max_tokens=16)
    result.props.text, result.props.tokens (a list of ints), result.props.timings (a dict)
"""
import queue
import threading

from gi.repository import Gio, GLib

from ..module import get_introspection_module
from ..overrides import override

Vlm = get_introspection_module("Vlm")

__all__ = []


def _params(params, options):
    """A GenerateParams from keyword options (max_tokens=16, temperature=0.7, stop=[...])."""
    if options:
        if params is not None:
            raise TypeError("give either params or keyword settings, not both")
        return Vlm.GenerateParams(**options)
    return params


class _PlainProps:
    """result.props with GVariant properties unpacked (tokens: list, timings: dict)."""

    def __init__(self, props):
        object.__setattr__(self, "_props", props)

    def __getattr__(self, name):
        value = getattr(self._props, name)
        return value.unpack() if isinstance(value, GLib.Variant) else value

    def __dir__(self):
        return dir(self._props)


class Result(Vlm.Result):
    @property
    def props(self):
        return _PlainProps(super().props)

    text = property(lambda self: self.get_text())
    tokens = property(lambda self: list(self.get_tokens()))
    prompt_tokens = property(lambda self: self.get_prompt_tokens())
    finish_reason = property(lambda self: self.get_finish_reason())
    timings = property(lambda self: self.get_timings().unpack())

    def as_dict(self):
        """The fields `vlm-pipeline batch` writes for a result."""
        return {"text": self.text, "tokens": self.tokens, "prompt_tokens": self.prompt_tokens,
                "finish_reason": self.finish_reason, "timings": self.timings}

    def __repr__(self):
        return "<Vlm.Result text=%r tokens=%r finish_reason=%r>" % (
            self.text, self.tokens, self.finish_reason)


Result = override(Result)
__all__.append("Result")


class Stream:
    """Iterates over the pieces of one generation (run in a thread); .result when done.

    Leaving the loop early (break, close(), with-block exit) cancels the generation.
    """

    _END = object()

    def __init__(self, model, prompt, images, params):
        self.result = None
        self._queue = queue.Queue()
        self._cancellable = Gio.Cancellable()
        self._thread = threading.Thread(target=self._run, args=(model, prompt, images, params),
                                        daemon=True)
        self._thread.start()

    def _run(self, model, prompt, images, params):
        me = threading.get_ident()
        # The model emits "text" in the generating thread: keep only this generation's pieces.
        handler = model.connect("text", lambda _m, piece: threading.get_ident() == me
                                and self._queue.put(piece))
        try:
            self.result = Vlm.Model.generate(model, prompt, images, params, self._cancellable)
            self._queue.put(self._END)
        except GLib.Error as error:
            self._queue.put(error)
        finally:
            model.disconnect(handler)

    def __iter__(self):
        return self

    def __next__(self):
        if self._thread is None:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, str):
            return item
        self._thread.join()
        self._thread = None
        if item is self._END:
            raise StopIteration
        raise item

    def close(self):
        if self._thread is not None:
            self._cancellable.cancel()
            self._thread.join()
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Model(Vlm.Model):
    @staticmethod
    def load(model, cancellable=None):
        """Loads a model folder or a Hugging Face id from the local cache."""
        return Vlm.Model.load(model, cancellable)

    @staticmethod
    def load_async(model, cancellable=None, callback=None, user_data=None):
        return Vlm.Model.load_async(model, cancellable, callback, user_data)

    def generate(self, prompt, images=None, cancellable=None, params=None, **options):
        """Answers one question; options are GenerateParams properties (max_tokens=16)."""
        return Vlm.Model.generate(self, prompt, images, _params(params, options), cancellable)

    def generate_async(self, prompt, images=None, cancellable=None, callback=None,
                       user_data=None, params=None, **options):
        """generate() in a worker thread; callback(model, async_result, user_data) in the main
        loop, where model.generate_finish(async_result) returns the Result."""
        return Vlm.Model.generate_async(self, prompt, images, _params(params, options),
                                        cancellable, callback, user_data)

    def generate_stream(self, prompt, images=None, params=None, **options):
        """A Stream: iterate for the text pieces, then read .result."""
        return Stream(self, prompt, images, _params(params, options))


Model = override(Model)
__all__.append("Model")
