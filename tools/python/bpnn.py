"""bpnn from Python: a ctypes binding over the C API (include/bpnn.h), numpy arrays in and out.

    import numpy as np, bpnn
    with bpnn.Network([2, 4, 1], init="uniform", init_scale=1.0, seed=3, precision="f64") as net:
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); y = np.array([[0], [1], [1], [0]])
        report = net.train(x, y, learning_rate=2.0, momentum=0.5, epochs=3000)
        print(net.predict(x).ravel(), report["final_loss"])

libbpnn.so is found through $BPNN_LIBRARY (a path to the library), else next to this repository's
build (build/libbpnn.so), else on the system's library path. Every failure raises bpnn.Error
carrying the C status and bpnn_last_error()'s message. A Network frees its handle on close(), on
leaving a `with` block, or when garbage-collected.

Thread-safety is the C API's: predict may run on one network from many threads (ctypes releases
the GIL during the call); train needs the network alone.
"""
import ctypes
import json
import numbers
import ctypes.util
import os

import numpy as np

__all__ = ["Error", "Network", "version", "version_number", "library_path", "to_torch"]

# ---- the library ---------------------------------------------------------------------------


def _find_library():
    """$BPNN_LIBRARY; else, for the package `cmake --install` wrote, the library it was installed
    with (its path relative to this file is recorded in _install.py); else this repository's
    build/libbpnn.so; else the system's library path."""
    env = os.environ.get("BPNN_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        from . import _install  # only in an installed package
    except ImportError:
        _install = None
    if _install is not None:
        return os.path.normpath(os.path.join(here, _install.LIBRARY))
    root = os.path.dirname(os.path.dirname(here))
    for candidate in (os.path.join(root, "build", "libbpnn.so"),):
        if os.path.exists(candidate):
            return candidate
    found = ctypes.util.find_library("bpnn")
    if found:
        return found
    raise OSError("bpnn: libbpnn.so not found; set BPNN_LIBRARY to its path or build the repository")


library_path = _find_library()
_lib = ctypes.CDLL(library_path)

_size_t = ctypes.c_size_t
_status = ctypes.c_int
_p_net = ctypes.c_void_p
_p_f32 = ctypes.POINTER(ctypes.c_float)
_p_f64 = ctypes.POINTER(ctypes.c_double)


class _NetConfig(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("sizes", ctypes.POINTER(_size_t)), ("n_sizes", _size_t),
                ("hidden_act", ctypes.c_int), ("output_act", ctypes.c_int), ("loss", ctypes.c_int),
                ("precision", ctypes.c_int), ("init", ctypes.c_int), ("init_scale", ctypes.c_double),
                ("seed", ctypes.c_uint64)]


class _EpochStats(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("epoch", _size_t), ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double), ("seconds", ctypes.c_double),
                ("samples_per_s", ctypes.c_double), ("learning_rate", ctypes.c_double),
                ("val_loss", ctypes.c_double), ("val_accuracy", ctypes.c_double),
                ("best", ctypes.c_int)]


_ON_EPOCH = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_EpochStats))


class _TrainConfig(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("learning_rate", ctypes.c_double),
                ("momentum", ctypes.c_double), ("batch", _size_t), ("epochs", _size_t),
                ("threads", ctypes.c_int), ("shuffle", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("on_epoch", _ON_EPOCH), ("user", ctypes.c_void_p),
                ("optimizer", ctypes.c_int), ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("eps", ctypes.c_double), ("l2", ctypes.c_double), ("clip", ctypes.c_double),
                ("scaling", ctypes.c_int), ("schedule", ctypes.c_char_p),
                ("val_split", ctypes.c_double), ("val_x", ctypes.c_void_p),
                ("val_y", ctypes.c_void_p), ("val_n", _size_t), ("early_stop", _size_t),
                ("checkpoint", ctypes.c_char_p), ("checkpoint_every", _size_t),
                ("resume", ctypes.c_char_p)]


class _TrainReport(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("epochs_run", _size_t), ("final_loss", ctypes.c_double),
                ("stopped_by_callback", ctypes.c_int), ("seconds", ctypes.c_double),
                ("stopped_early", ctypes.c_int), ("best_epoch", _size_t),
                ("best_val_loss", ctypes.c_double)]


class _EvalReport(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("n", _size_t), ("loss", ctypes.c_double),
                ("classifier", ctypes.c_int), ("n_classes", _size_t),
                ("accuracy", ctypes.c_double), ("macro_f1", ctypes.c_double),
                ("rmse", ctypes.c_double), ("mae", ctypes.c_double), ("r2", ctypes.c_double)]


def _declare(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_version_number = _declare("bpnn_version_number", ctypes.c_int)
_version_string = _declare("bpnn_version_string", ctypes.c_char_p)
_status_string = _declare("bpnn_status_string", ctypes.c_char_p, _status)
_last_error = _declare("bpnn_last_error", ctypes.c_char_p)
_net_config_init = _declare("bpnn_net_config_init", None, ctypes.POINTER(_NetConfig))
_net_create = _declare("bpnn_net_create", _status, ctypes.POINTER(_NetConfig), ctypes.POINTER(_p_net))
_net_load = _declare("bpnn_net_load", _status, ctypes.c_char_p, ctypes.POINTER(_p_net))
_net_save = _declare("bpnn_net_save", _status, _p_net, ctypes.c_char_p)
_net_clone = _declare("bpnn_net_clone", _status, _p_net, ctypes.POINTER(_p_net))
_net_free = _declare("bpnn_net_free", None, _p_net)
_net_n_params = _declare("bpnn_net_n_params", _size_t, _p_net)
_net_precision = _declare("bpnn_net_precision", ctypes.c_int, _p_net)
_net_get_config = _declare("bpnn_net_get_config", _status, _p_net, ctypes.POINTER(_NetConfig))
_net_predict_f32 = _declare("bpnn_net_predict_f32", _status, _p_net, _p_f32, _size_t, _p_f32)
_net_predict_f64 = _declare("bpnn_net_predict_f64", _status, _p_net, _p_f64, _size_t, _p_f64)
_net_predict_layer_f32 = _declare("bpnn_net_predict_layer_f32", _status, _p_net, _p_f32, _size_t,
                                  _size_t, _p_f32)
_net_predict_layer_f64 = _declare("bpnn_net_predict_layer_f64", _status, _p_net, _p_f64, _size_t,
                                  _size_t, _p_f64)
_net_get_layer = _declare("bpnn_net_get_layer_f64", _status, _p_net, _size_t, _p_f64, _size_t,
                          _p_f64, _size_t)
_net_set_layer = _declare("bpnn_net_set_layer_f64", _status, _p_net, _size_t, _p_f64, _size_t,
                          _p_f64, _size_t)
_net_set_metadata = _declare("bpnn_net_set_metadata", _status, _p_net, ctypes.c_char_p, ctypes.c_char_p)
_net_get_metadata = _declare("bpnn_net_get_metadata", ctypes.c_char_p, _p_net, ctypes.c_char_p)
_train_config_init = _declare("bpnn_train_config_init", None, ctypes.POINTER(_TrainConfig))
_train_report_init = _declare("bpnn_train_report_init", None, ctypes.POINTER(_TrainReport))
_net_train_f32 = _declare("bpnn_net_train_f32", _status, _p_net, ctypes.POINTER(_TrainConfig), _p_f32,
                          _p_f32, _size_t, ctypes.POINTER(_TrainReport))
_net_train_f64 = _declare("bpnn_net_train_f64", _status, _p_net, ctypes.POINTER(_TrainConfig), _p_f64,
                          _p_f64, _size_t, ctypes.POINTER(_TrainReport))
_checkpoint_load = _declare("bpnn_checkpoint_load", _status, ctypes.c_char_p, ctypes.POINTER(_p_net),
                            ctypes.POINTER(_size_t))
_p_scaling = ctypes.POINTER(ctypes.c_int)
_net_get_scaler = _declare("bpnn_net_get_scaler", _status, _p_net, _p_scaling, _p_f64, _p_f64, _size_t)
_net_set_scaler = _declare("bpnn_net_set_scaler", _status, _p_net, ctypes.c_int, _p_f64, _p_f64, _size_t)
_eval_report_init = _declare("bpnn_eval_report_init", None, ctypes.POINTER(_EvalReport))
_p_size = ctypes.POINTER(_size_t)
_net_evaluate_f32 = _declare("bpnn_net_evaluate_f32", _status, _p_net, _p_f32, _p_f32, _size_t,
                             ctypes.POINTER(_EvalReport), _p_size, _size_t)
_net_evaluate_f64 = _declare("bpnn_net_evaluate_f64", _status, _p_net, _p_f64, _p_f64, _size_t,
                             ctypes.POINTER(_EvalReport), _p_size, _size_t)

# ---- errors and names ----------------------------------------------------------------------

OK, ERR_ARG, ERR_NOMEM, ERR_IO, ERR_FORMAT, ERR_NONFINITE, ERR_INTERNAL, ERR_BUSY = range(8)


class Error(Exception):
    """A failing bpnn call: .status is the bpnn_status number, .status_name its name
    ("BPNN_ERR_ARG", ...), str(error) bpnn_last_error()'s message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.status_name = _status_string(status).decode()


def _check(status):
    if status != OK:
        raise Error(status, _last_error().decode("utf-8", "replace"))


_SIZE_MAX = 2 ** (8 * ctypes.sizeof(_size_t)) - 1
_INT_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_int) - 1) - 1
_UINT64_MAX = 2 ** 64 - 1


def _integer(value, what, low, high):
    """value as a Python int in [low, high], the range of the C field it goes into;
    bpnn.Error(ERR_ARG) for anything else (a float, a bool, a negative count that ctypes would
    silently wrap, a number too big for its C type)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Error(ERR_ARG, f"{what}: {value!r} is not an integer")
    value = int(value)
    if not low <= value <= high:
        raise Error(ERR_ARG, f"{what}: {value} is out of range [{low}, {high}]")
    return value


def _text(value, what):
    """value as UTF-8 bytes without NUL (C strings end at the first NUL, which would silently
    truncate the value)."""
    if not isinstance(value, str):
        raise Error(ERR_ARG, f"{what}: {value!r} is not a str")
    if "\0" in value:
        raise Error(ERR_ARG, f"{what}: contains a NUL character")
    return value.encode("utf-8")


def _code(names, value, what):
    if isinstance(value, str) and value in names:
        return names.index(value)
    raise ValueError(f"{what}: {value!r} is not one of {', '.join(names)}")


_ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear", "softmax"]
_LOSSES = ["mse", "xent"]
_PRECISIONS = ["f32", "f64"]
_INITS = ["zero", "uniform", "xavier", "he"]
_DTYPES = [np.float32, np.float64]
_SCALINGS = ["none", "standard", "minmax"]
_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw", "irprop"]


def version():
    """The run-time library version, "MAJOR.MINOR.PATCH"."""
    return _version_string().decode()


def version_number():
    return _version_number()


# ---- networks ------------------------------------------------------------------------------


class Network:
    """A bpnn network. Network(sizes, ...) creates one; Network.load(path) reads a model file."""

    def __init__(self, sizes, hidden_act="sigmoid", output_act="sigmoid", loss="mse",
                 precision="f32", init="xavier", init_scale=0.5, seed=1):
        self._handle = None
        sizes = [_integer(s, f"sizes[{i}]", 0, _SIZE_MAX) for i, s in enumerate(sizes)]
        c_sizes = (_size_t * max(len(sizes), 1))(*sizes)
        config = _NetConfig()
        _net_config_init(ctypes.byref(config))
        config.sizes = ctypes.cast(c_sizes, ctypes.POINTER(_size_t))
        config.n_sizes = len(sizes)
        config.hidden_act = _code(_ACTIVATIONS, hidden_act, "hidden_act")
        config.output_act = _code(_ACTIVATIONS, output_act, "output_act")
        config.loss = _code(_LOSSES, loss, "loss")
        config.precision = _code(_PRECISIONS, precision, "precision")
        config.init = _code(_INITS, init, "init")
        config.init_scale = float(init_scale)
        config.seed = _integer(seed, "seed", 0, _UINT64_MAX)
        handle = _p_net()
        _check(_net_create(ctypes.byref(config), ctypes.byref(handle)))
        self._handle = handle

    @classmethod
    def _adopt(cls, handle):
        net = cls.__new__(cls)
        net._handle = handle
        return net

    @classmethod
    def load(cls, path):
        handle = _p_net()
        _check(_net_load(os.fsencode(path), ctypes.byref(handle)))
        return cls._adopt(handle)

    def save(self, path):
        _check(_net_save(self._live(), os.fsencode(path)))

    def clone(self):
        handle = _p_net()
        _check(_net_clone(self._live(), ctypes.byref(handle)))
        return Network._adopt(handle)

    # -- lifetime --
    def close(self, _free=_net_free):  # bound now: module globals may be gone at shutdown
        """Frees the network now; later calls raise ValueError. Safe to call twice."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _live(self):
        if not self._handle:
            raise ValueError("bpnn: the network is closed")
        return self._handle

    # -- shape --
    def _config(self):
        config = _NetConfig()
        _net_config_init(ctypes.byref(config))
        _check(_net_get_config(self._live(), ctypes.byref(config)))
        return config

    @property
    def sizes(self):
        c = self._config()
        return [c.sizes[i] for i in range(c.n_sizes)]

    @property
    def n_inputs(self):
        return self.sizes[0]

    @property
    def n_outputs(self):
        return self.sizes[-1]

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    @property
    def n_params(self):
        return _net_n_params(self._live())

    @property
    def precision(self):
        return _PRECISIONS[_net_precision(self._live())]

    @property
    def dtype(self):
        return np.dtype(_DTYPES[_net_precision(self._live())])

    @property
    def activations(self):
        c = self._config()
        return _ACTIVATIONS[c.hidden_act], _ACTIVATIONS[c.output_act]

    @property
    def loss(self):
        return _LOSSES[self._config().loss]

    # -- arrays --
    def _rows(self, a, width, name):
        """a as a C-contiguous (n, width) array in the network's dtype."""
        try:
            a = np.ascontiguousarray(a, dtype=self.dtype)
        except (TypeError, ValueError) as e:
            kind = getattr(np.asarray(a, dtype=object), "dtype", "?")
            raise Error(ERR_ARG, f"{name}: expected numbers convertible to {self.dtype} "
                                 f"(shape (n, {width})), got {kind} values: {e}") from None
        if a.ndim == 1 and width == 1 and a.shape[0] != 1:
            a = a.reshape(-1, 1)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != width:
            raise Error(ERR_ARG, f"{name}: expected shape (n, {width}), got {a.shape}")
        return a

    def _ptr(self, a):
        return a.ctypes.data_as(_p_f64 if a.dtype == np.float64 else _p_f32)

    @property
    def classes(self):
        """The class names of the outputs (metadata "classes", kept in saved models), or None."""
        text = self.get_metadata("classes")
        if text is None:
            return None
        names = json.loads(text)
        return names if isinstance(names, list) else None

    def _targets(self, y, name, classes=None, keep=False):
        """y as (n, outputs) targets. A 1-D y for a network of several outputs holds class labels
        (numbers or strings): they are one-hot encoded over `classes`, else the network's own
        classes, else the sorted distinct labels (numerically when all are whole numbers), which
        the network then keeps (metadata "classes"). A label outside the classes is an error."""
        a = np.asarray(y)
        if a.ndim != 1 or self.n_outputs == 1:
            return self._rows(y, self.n_outputs, name)
        labels = [str(v) for v in a.tolist()]
        known = list(classes) if classes is not None else self.classes
        if known is None:
            distinct = set(labels)
            try:
                known = sorted(distinct, key=int)
            except ValueError:
                known = sorted(distinct)
        known = [str(c) for c in known]
        if len(known) != self.n_outputs or len(set(known)) != len(known):
            raise Error(ERR_ARG, f"{name}: {len(known)} distinct classes {known[:10]} for a network of "
                                 f"{self.n_outputs} outputs; give classes=[...] naming one class per output")
        index = {c: i for i, c in enumerate(known)}
        onehot = np.zeros((len(labels), self.n_outputs), dtype=self.dtype)
        for r, label in enumerate(labels):
            if label not in index:
                raise Error(ERR_ARG, f"{name}[{r}]: class {label!r} is not one of {known[:10]}")
            onehot[r, index[label]] = 1
        if keep and self.classes != known:
            self.set_metadata("classes", json.dumps(known))
        return onehot

    def predict_classes(self, x):
        """The predicted class name of each row of x (the arg-max output; for one sigmoid output,
        1 when it is above 0.5), from the network's classes (or "0", "1", … without them)."""
        y = np.atleast_2d(self.predict(x))
        if self.n_outputs == 1:
            index = (y[:, 0] > 0.5).astype(int)
            names = self.classes or ["0", "1"]
        else:
            index = y.argmax(axis=1)
            names = self.classes or [str(i) for i in range(self.n_outputs)]
        return [names[i] for i in index]

    def predict(self, x, layer=None):
        """x:(n, inputs) → (n, outputs) in the network's dtype; a 1-D x is one sample. With
        `layer`, the activations of that layer instead, counted as the sizes are: 0 = the inputs
        after the model's scaler, 1 = the first hidden layer, …, n_layers = the outputs."""
        single = np.ndim(x) == 1 and self.n_inputs != 1
        x = self._rows(x, self.n_inputs, "x")
        if layer is None:
            y = np.empty((x.shape[0], self.n_outputs), dtype=self.dtype)
            f = _net_predict_f64 if self.dtype == np.float64 else _net_predict_f32
            _check(f(self._live(), self._ptr(x), x.shape[0], self._ptr(y)))
        else:
            layer = _integer(layer, "layer", 0, _SIZE_MAX)
            sizes = self.sizes
            if layer >= len(sizes):
                raise Error(ERR_ARG, f"layer = {layer} is out of range (0 … {len(sizes) - 1})")
            y = np.empty((x.shape[0], sizes[layer]), dtype=self.dtype)
            f = _net_predict_layer_f64 if self.dtype == np.float64 else _net_predict_layer_f32
            _check(f(self._live(), self._ptr(x), x.shape[0], layer, self._ptr(y)))
        return y[0] if single else y

    def train(self, x, y, learning_rate=None, momentum=None, batch=1, epochs=10, threads=0,
              shuffle=True, seed=1, on_epoch=None, optimizer="sgd", betas=(0.9, 0.999), eps=1e-8,
              l2=None, clip=0.0, scale=None, schedule=None, val_split=0.0, val=None,
              early_stop=0, checkpoint=None, checkpoint_every=0, resume=None, classes=None):
        """Trains on x:(n, inputs), y:(n, outputs) — or, for several outputs, y:(n,) class labels,
        one-hot encoded over `classes` (else the network's classes, else the sorted distinct
        labels), which the network keeps (`classes`, saved with the model; `predict_classes`).
        on_epoch(stats: dict) is called after every
        epoch; returning True stops training. Returns the report as a dict (epochs_run,
        final_loss, stopped_by_callback, seconds). An exception in on_epoch stops training and
        is raised from train.

        optimizer: "sgd", "momentum", "nesterov", "adam", "adamw" or "irprop" (PyTorch's update
        rules; see the README). learning_rate, momentum and l2 default (None) to the optimizer's:
        lr 0.1 for the SGD family and 1e-3 for adam/adamw, momentum 0.9 for momentum/nesterov,
        l2 0.01 for adamw (decoupled), else 0; l2 decays weights, not biases. clip > 0 clips the
        gradient norm. scale ("standard" or "minmax") fits an input scaler on x and keeps it in
        the network, so predict applies it; None keeps the network's own.

        schedule: None or "constant", "step:EPOCHS:GAMMA", "cosine", "plateau:PATIENCE:FACTOR".
        val_split holds out a (seeded, stratified) fraction of the rows, or val=(x, y) gives a
        validation set: every epoch is scored on it (the stats dict then has val_loss,
        val_accuracy and best). early_stop=N stops after N epochs without a strictly better
        validation loss and keeps the best epoch's weights. checkpoint=PATH writes a checkpoint
        every checkpoint_every epochs (0: only at the end); resume=PATH continues the run saved
        there on the network bpnn.checkpoint_load(PATH) gives, with the same options (epochs is
        the new total). The report also has stopped_early, best_epoch and best_val_loss."""
        x = self._rows(x, self.n_inputs, "x")
        y = self._targets(y, "y", classes, keep=True)
        if x.shape[0] != y.shape[0]:
            raise Error(ERR_ARG, f"x has {x.shape[0]} rows but y has {y.shape[0]}")
        config = _TrainConfig()
        _train_config_init(ctypes.byref(config))
        nan = float("nan")
        config.learning_rate = nan if learning_rate is None else float(learning_rate)
        config.momentum = nan if momentum is None else float(momentum)
        config.optimizer = _code(_OPTIMIZERS, optimizer, "optimizer")
        config.beta1, config.beta2 = (float(b) for b in betas)
        config.eps = float(eps)
        config.l2 = nan if l2 is None else float(l2)
        config.clip = float(clip)
        config.scaling = 0 if scale is None else _code(_SCALINGS, scale, "scale")
        if schedule is not None:
            config.schedule = str(schedule).encode()
        config.val_split = float(val_split)
        if val is not None:
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise Error(ERR_ARG, "val: expected a pair (x, y)")
            vx = self._rows(val[0], self.n_inputs, "val x")
            vy = self._targets(val[1], "val y")
            if vx.shape[0] != vy.shape[0]:
                raise Error(ERR_ARG, f"val: x has {vx.shape[0]} rows but y has {vy.shape[0]}")
            config.val_x = vx.ctypes.data
            config.val_y = vy.ctypes.data
            config.val_n = vx.shape[0]
        config.early_stop = _integer(early_stop, "early_stop", 0, _SIZE_MAX)
        if checkpoint is not None:
            config.checkpoint = os.fsencode(checkpoint)
        config.checkpoint_every = _integer(checkpoint_every, "checkpoint_every", 0, _SIZE_MAX)
        if resume is not None:
            config.resume = os.fsencode(resume)
        # Only what ctypes would silently wrap is checked here; the C API checks the rest.
        config.batch = _integer(batch, "batch", 0, _SIZE_MAX)
        config.epochs = _integer(epochs, "epochs", 0, _SIZE_MAX)
        config.threads = _integer(threads, "threads", -_INT_MAX - 1, _INT_MAX)
        config.shuffle = 1 if shuffle else 0
        config.seed = _integer(seed, "seed", 0, _UINT64_MAX)
        raised = []
        if on_epoch is not None:
            def trampoline(_user, stats):
                s = stats.contents
                try:
                    return 1 if on_epoch({"epoch": s.epoch, "loss": s.loss, "accuracy": s.accuracy,
                                          "seconds": s.seconds,
                                          "samples_per_s": s.samples_per_s,
                                          "learning_rate": s.learning_rate,
                                          "val_loss": s.val_loss,
                                          "val_accuracy": s.val_accuracy,
                                          "best": bool(s.best)}) else 0
                except BaseException as e:  # noqa: B902 - re-raised below, after the C call
                    raised.append(e)
                    return 1
            callback = _ON_EPOCH(trampoline)  # kept alive until train returns
            config.on_epoch = callback
        report = _TrainReport()
        _train_report_init(ctypes.byref(report))
        f = _net_train_f64 if self.dtype == np.float64 else _net_train_f32
        status = f(self._live(), ctypes.byref(config), self._ptr(x), self._ptr(y), x.shape[0],
                   ctypes.byref(report))
        if raised:
            raise raised[0]
        _check(status)
        return {"epochs_run": report.epochs_run, "final_loss": report.final_loss,
                "stopped_by_callback": bool(report.stopped_by_callback), "seconds": report.seconds,
                "stopped_early": bool(report.stopped_early), "best_epoch": report.best_epoch,
                "best_val_loss": report.best_val_loss}

    def _layer_shape(self, layer):
        sizes = self.sizes
        layer = _integer(layer, "layer", 0, _SIZE_MAX)
        if layer >= len(sizes) - 1:
            raise Error(ERR_ARG, f"layer = {layer} is out of range (the net has {len(sizes) - 1} layers)")
        return layer, sizes[layer + 1], sizes[layer]

    def evaluate(self, x, y):
        """Scores the network on x:(n, inputs), y:(n, outputs) as `bpnn eval` does. Returns a
        dict: n, loss, classifier, and for a classifier accuracy, confusion (an (k, k) array,
        rows = true class, columns = predicted), per_class (a list of dicts with precision,
        recall, f1, support; 0/0 counts as 0) and macro_f1 (over the classes occurring as
        truth or prediction); for a regression model rmse, mae and r2. y may be 1-D class
        labels, as in train."""
        x = self._rows(x, self.n_inputs, "x")
        y = self._targets(y, "y")
        if x.shape[0] != y.shape[0]:
            raise Error(ERR_ARG, f"x has {x.shape[0]} rows but y has {y.shape[0]}")
        k = 2 if self.n_outputs == 1 else self.n_outputs
        confusion = np.zeros((k, k), dtype=np.uintp)
        report = _EvalReport()
        _eval_report_init(ctypes.byref(report))
        f = _net_evaluate_f64 if self.dtype == np.float64 else _net_evaluate_f32
        _check(f(self._live(), self._ptr(x), self._ptr(y), x.shape[0], ctypes.byref(report),
                 confusion.ctypes.data_as(_p_size), confusion.size))
        result = {"n": report.n, "loss": report.loss, "classifier": bool(report.classifier)}
        if not report.classifier:
            result.update(rmse=report.rmse, mae=report.mae, r2=report.r2)
            return result
        confusion = confusion.astype(np.int64)
        hits = np.diag(confusion)
        support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
        per_class = []
        for c in range(k):
            p = hits[c] / predicted[c] if predicted[c] else 0.0
            r = hits[c] / support[c] if support[c] else 0.0
            per_class.append({"precision": float(p), "recall": float(r),
                              "f1": float(2 * p * r / (p + r)) if p + r > 0 else 0.0,
                              "support": int(support[c])})
        result.update(accuracy=report.accuracy, macro_f1=report.macro_f1, confusion=confusion,
                      per_class=per_class)
        return result

    @property
    def scaler(self):
        """The input scaling kept with the model: (kind, offset, factor), kind one of "none",
        "standard", "minmax"; x' = (x - offset) * factor per column (None, None for "none").
        predict and evaluate apply it to raw inputs."""
        kind = ctypes.c_int()
        _check(_net_get_scaler(self._live(), ctypes.byref(kind), None, None, 0))
        if kind.value == 0:
            return "none", None, None
        offset = np.empty(self.n_inputs, dtype=np.float64)
        factor = np.empty(self.n_inputs, dtype=np.float64)
        _check(_net_get_scaler(self._live(), ctypes.byref(kind), self._ptr(offset),
                               self._ptr(factor), self.n_inputs))
        return _SCALINGS[kind.value], offset, factor

    def set_scaler(self, kind, offset=None, factor=None):
        """Sets the input scaling (see `scaler`); offset and factor have one value per input."""
        code = _code(_SCALINGS, kind, "kind")
        if code == 0:
            _check(_net_set_scaler(self._live(), 0, None, None, 0))
            return
        o = np.ascontiguousarray(offset, dtype=np.float64)
        f = np.ascontiguousarray(factor, dtype=np.float64)
        if o.shape != (self.n_inputs,) or f.shape != (self.n_inputs,):
            raise Error(ERR_ARG, f"offset and factor: expected shape ({self.n_inputs},), got "
                                 f"{o.shape} and {f.shape}")
        _check(_net_set_scaler(self._live(), code, self._ptr(o), self._ptr(f), self.n_inputs))

    def get_layer(self, layer):
        """Layer `layer`'s (weights (out, in), bias (out,)) as float64 arrays."""
        layer, out, in_ = self._layer_shape(layer)
        w = np.empty((out, in_), dtype=np.float64)
        b = np.empty(out, dtype=np.float64)
        _check(_net_get_layer(self._live(), layer, self._ptr(w), w.size, self._ptr(b), b.size))
        return w, b

    def set_layer(self, layer, weights, bias):
        """Replaces layer `layer`'s parameters (rounded to the network's precision): weights of
        shape exactly (out, in), the PyTorch nn.Linear layout, and bias of shape (out,). A
        transposed (in, out) array is refused even though it has the right number of elements."""
        layer, out, in_ = self._layer_shape(layer)
        w = np.ascontiguousarray(weights, dtype=np.float64)
        b = np.ascontiguousarray(bias, dtype=np.float64)
        if w.shape != (out, in_):
            raise Error(ERR_ARG, f"weights: expected shape ({out}, {in_}) (out, in), got {w.shape}")
        if b.shape != (out,):
            raise Error(ERR_ARG, f"bias: expected shape ({out},), got {b.shape}")
        _check(_net_set_layer(self._live(), layer, self._ptr(w), w.size, self._ptr(b), b.size))

    def set_metadata(self, key, value):
        _check(_net_set_metadata(self._live(), _text(key, "key"), _text(value, "value")))

    def get_metadata(self, key):
        """The value stored under key, or None."""
        value = _net_get_metadata(self._live(), _text(key, "key"))
        return None if value is None else value.decode()

    def __repr__(self):
        if not self._handle:
            return "<bpnn.Network closed>"
        return f"<bpnn.Network sizes={self.sizes} precision={self.precision}>"


def checkpoint_load(path):
    """The network of a checkpoint written by train(checkpoint=PATH) (its weights, scaler and
    metadata at that point) and the epochs it had trained: (Network, epochs_done). Continue the
    run with net.train(..., resume=PATH) and the same options."""
    handle = _p_net()
    done = _size_t(0)
    _check(_checkpoint_load(os.fsencode(path), ctypes.byref(handle), ctypes.byref(done)))
    return Network._adopt(handle), done.value


def to_torch(net):
    """The network as a PyTorch nn.Sequential of the same precision: the input scaler (when the
    model has one) as a first nn.Linear with a diagonal weight (x' = factor*x - offset*factor),
    then nn.Linear plus the activation per layer (nn.Softmax(dim=1) for a softmax output).
    Needs torch (Debian python3-torch); the tensors are copies."""
    import torch
    from torch import nn

    dtype = torch.float64 if net.precision == "f64" else torch.float32
    modules = []
    kind, offset, factor = net.scaler
    if kind != "none":
        scale = nn.Linear(net.n_inputs, net.n_inputs).to(dtype)
        with torch.no_grad():
            scale.weight.copy_(torch.diag(torch.tensor(factor, dtype=torch.float64)).to(dtype))
            scale.bias.copy_(torch.tensor(-offset * factor, dtype=torch.float64).to(dtype))
        modules.append(scale)
    hidden, output = net.activations
    activation = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "linear": None,
                  "softmax": lambda: nn.Softmax(dim=1)}
    sizes = net.sizes
    for layer in range(net.n_layers):
        w, b = net.get_layer(layer)
        linear = nn.Linear(sizes[layer], sizes[layer + 1]).to(dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(w, dtype=dtype))
            linear.bias.copy_(torch.tensor(b, dtype=dtype))
        modules.append(linear)
        make = activation[output if layer + 1 == net.n_layers else hidden]
        if make is not None:
            modules.append(make())
    return nn.Sequential(*modules)


# ---- many networks at once (bpnn_train_many) --------------------------------------------------

class _Member(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("net", ctypes.POINTER(_NetConfig)),
                ("train", ctypes.POINTER(_TrainConfig))]


class _MemberResult(ctypes.Structure):
    _fields_ = [("struct_size", _size_t), ("status", ctypes.c_int), ("epochs_run", _size_t),
                ("final_loss", ctypes.c_double), ("train_accuracy", ctypes.c_double),
                ("val_loss", ctypes.c_double), ("val_accuracy", ctypes.c_double),
                ("lane_path", ctypes.c_int)]


_member_init = _declare("bpnn_member_init", None, ctypes.POINTER(_Member))
_member_result_init = _declare("bpnn_member_result_init", None, ctypes.POINTER(_MemberResult))
_train_many = _declare("bpnn_train_many", _status, ctypes.POINTER(_Member), _size_t, _p_f64, _p_f64,
                       _size_t, ctypes.c_int, ctypes.POINTER(_p_net), ctypes.POINTER(_MemberResult))

_MEMBER_NET_KEYS = {"sizes", "hidden_act", "output_act", "loss", "precision", "init", "init_scale",
                    "seed"}
_MEMBER_TRAIN_KEYS = {"learning_rate", "momentum", "batch", "epochs", "shuffle", "train_seed",
                      "optimizer", "betas", "eps", "l2", "clip", "schedule", "val_split"}


def train_many(x, y, members, threads=0, results=False):
    """Trains several independent networks on the same x:(n, inputs), y:(n, outputs) at once
    (bpnn_train_many): each member is a dict of Network's arguments (sizes, hidden_act,
    output_act, loss, precision, init, init_scale, seed) and train's (learning_rate, momentum,
    batch, epochs, shuffle, optimizer, betas, eps, l2, clip, schedule, val_split; train_seed
    seeds the shuffle and defaults to seed, as `bpnn train --seed` does). Each network equals,
    bit for bit, Network(...).train(x, y, ...) with the same arguments; per-sample SGD members
    train several at once, one per SIMD lane. Returns the list of networks, in order; with
    results=True also a list of dicts (status "ok" or "diverged", epochs_run, final_loss,
    train_accuracy, val_loss, val_accuracy, lane_path). A member that diverges does not stop the
    others; one whose loss diverged keeps its weights from before the failing step."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise Error(ERR_ARG, f"x and y: expected (n, inputs) and (n, outputs) with the same n, "
                             f"got {x.shape} and {y.shape}")
    members = list(members)
    if not members:
        raise Error(ERR_ARG, "members: empty")
    keep = []  # the ctypes objects the C call reads
    c_members = (_Member * len(members))()
    nan = float("nan")
    for i, m in enumerate(members):
        unknown = set(m) - _MEMBER_NET_KEYS - _MEMBER_TRAIN_KEYS
        if unknown:
            raise Error(ERR_ARG, f"members[{i}]: unknown keys {sorted(unknown)}")
        if "sizes" not in m:
            raise Error(ERR_ARG, f"members[{i}]: sizes is required")
        sizes = [_integer(s, f"members[{i}] sizes", 0, _SIZE_MAX) for s in m["sizes"]]
        c_sizes = (_size_t * max(len(sizes), 1))(*sizes)
        net = _NetConfig()
        _net_config_init(ctypes.byref(net))
        net.sizes = ctypes.cast(c_sizes, ctypes.POINTER(_size_t))
        net.n_sizes = len(sizes)
        net.hidden_act = _code(_ACTIVATIONS, m.get("hidden_act", "sigmoid"), "hidden_act")
        net.output_act = _code(_ACTIVATIONS, m.get("output_act", "sigmoid"), "output_act")
        net.loss = _code(_LOSSES, m.get("loss", "mse"), "loss")
        net.precision = _code(_PRECISIONS, m.get("precision", "f32"), "precision")
        net.init = _code(_INITS, m.get("init", "xavier"), "init")
        net.init_scale = float(m.get("init_scale", 0.5))
        net.seed = _integer(m.get("seed", 1), "seed", 0, _UINT64_MAX)
        train = _TrainConfig()
        _train_config_init(ctypes.byref(train))
        lr, mu, l2 = m.get("learning_rate"), m.get("momentum"), m.get("l2")
        train.learning_rate = nan if lr is None else float(lr)
        train.momentum = nan if mu is None else float(mu)
        train.l2 = nan if l2 is None else float(l2)
        train.batch = _integer(m.get("batch", 1), "batch", 0, _SIZE_MAX)
        train.epochs = _integer(m.get("epochs", 10), "epochs", 0, _SIZE_MAX)
        train.shuffle = 1 if m.get("shuffle", True) else 0
        train.seed = _integer(m.get("train_seed", m.get("seed", 1)), "train_seed", 0, _UINT64_MAX)
        train.optimizer = _code(_OPTIMIZERS, m.get("optimizer", "sgd"), "optimizer")
        train.beta1, train.beta2 = (float(b) for b in m.get("betas", (0.9, 0.999)))
        train.eps = float(m.get("eps", 1e-8))
        train.clip = float(m.get("clip", 0.0))
        schedule = m.get("schedule")
        if schedule is not None:
            schedule = str(schedule).encode()
            train.schedule = schedule
        train.val_split = float(m.get("val_split", 0.0))
        keep.append((c_sizes, net, train, schedule))
        _member_init(ctypes.byref(c_members[i]))
        c_members[i].net = ctypes.pointer(net)
        c_members[i].train = ctypes.pointer(train)
    out = (_p_net * len(members))()
    c_results = (_MemberResult * len(members))()
    for r in c_results:
        _member_result_init(ctypes.byref(r))
    _check(_train_many(c_members, len(members), x.ctypes.data_as(_p_f64), y.ctypes.data_as(_p_f64),
                       x.shape[0], _integer(threads, "threads", 0, _INT_MAX), out, c_results))
    nets = [Network._adopt(out[i]) for i in range(len(members))]
    if not results:
        return nets
    return nets, [{"status": "ok" if r.status == OK else "diverged", "epochs_run": r.epochs_run,
                   "final_loss": r.final_loss, "train_accuracy": r.train_accuracy,
                   "val_loss": r.val_loss, "val_accuracy": r.val_accuracy,
                   "lane_path": bool(r.lane_path)} for r in c_results]
