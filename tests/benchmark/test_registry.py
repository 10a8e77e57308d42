"""The registry: built-ins and plug-ins found one way, and every way a plug-in can be wrong."""

import sys
import textwrap

import pytest

from benchmark.method import Method
from benchmark.policy import Policy
from benchmark.registry import (MethodOptions, PluginError, checkpoint_digests, find, make_method, make_user,
                                plugin_provenance, registered, resolve_method)
from benchmark.digests import file_digest

BUILTIN_USERS = ("adjustment", "all-tools", "box", "brush", "cvpr25", "deepgrow", "multi", "none", "random", "ritm",
                 "selection", "vista3d")


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A folder, made the current one, for plug-in modules written by the test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    written = []

    def write(module: str, source: str) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        written.append(module)

    yield write
    registered.cache_clear()
    for module in written:  # the next test writes its own
        sys.modules.pop(module, None)


METHODS = '''
    import numpy as np
    from benchmark.registry import method_factory

    class Threshold:
        """Thresholds FLAIR; clicks ignored."""
        tools = frozenset({"selection"})

        def __init__(self, context, *, z=1.0):
            self.name, self.z, self.arg = f"threshold:{context.arg or 'none'}", z, context.arg

        def predict(self, image, history):
            return image.channel("flair") > self.z

    @method_factory(argument="file", usage="weights=FILE")
    def weights(context):
        return Threshold(context)

    def nameless(context):
        return object()

    def bad_tools(context):
        method = Threshold(context)
        method.tools = {"clicks"}
        return method

    def raising(context):
        raise RuntimeError("CUDA out of memory")
'''


def test_every_builtin_user_is_registered_and_builds():
    assert tuple(registered("user")) == BUILTIN_USERS
    for name in BUILTIN_USERS:
        user = make_user(name)
        assert isinstance(user, Policy) and user.name == name
        assert find("user", name).distribution == "simedit"


def test_every_builtin_method_is_registered_by_simedit():
    names = set(registered("method"))
    assert {"manual-paint", "base", "editor", "deepigeos", "process", "cvpr25", "nninteractive"} <= names
    assert make_method("manual-paint").name == "manual-paint"


def test_mode_and_options_reach_the_user():
    selection = make_user("selection", "train", max_clicks=2)
    assert selection.mode == "train" and selection.max_clicks == 2
    assert make_user("adjustment", min_abs_k=0.1).min_abs_k == 0.1
    assert make_user("ritm", "train").name == "ritm"  # reference users have one behaviour
    assert make_user("multi:target_dice=0.95").target_dice == 0.95
    assert make_user("selection:max_clicks=1", "train").max_clicks == 1


@pytest.mark.parametrize("spec, message", [
    ("selectoin", "unknown user 'selectoin'; did you mean 'selection'?"),
    ("rtim", "did you mean 'ritm'"),
    ("xyzzy", "choose one of: " + ", ".join(BUILTIN_USERS) + "; or give an import path module:attribute"),
    ("multi:target=0.9", "unknown option of user 'multi': 'target'; did you mean 'target_dice'"),
    ("ritm:radius=2", "unknown option of user 'ritm': 'radius'"),
])
def test_unknown_users_and_options_suggest_the_closest(spec, message):
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        make_user(spec)


def test_bad_mode_suggests_the_closest():
    with pytest.raises(ValueError, match="unknown mode 'tset'; did you mean 'test'"):
        make_user("selection", "tset")


def test_methods_by_import_path_get_their_argument_options_and_context(plugins, tmp_path):
    plugins("mylab_methods", METHODS)
    (tmp_path / "w.bin").write_bytes(b"weights")
    method = make_method("mylab_methods:Threshold[z=2.5]=anything", MethodOptions(device="cuda", threads=3))
    assert isinstance(method, Method) and (method.name, method.z, method.arg) == ("threshold:anything", 2.5, "anything")
    method = make_method("mylab_methods:weights=w.bin")
    assert method.arg == str((tmp_path / "w.bin").resolve())  # a file argument is made absolute
    assert resolve_method("mylab_methods:weights=w.bin")[0] == f"mylab_methods:weights={(tmp_path / 'w.bin').resolve()}"
    assert checkpoint_digests(["mylab_methods:weights=w.bin"]) == {"mylab_methods:weights=w.bin": file_digest(tmp_path / "w.bin")}


@pytest.mark.parametrize("spec, message", [
    ("mylab_nope:Threshold", "method 'mylab_nope:Threshold': no module named 'mylab_nope'; check the spelling"),
    ("mylab_methods:Treshold", "has no attribute 'Treshold'; did you mean 'Threshold'"),
    ("mylab_methods:Threshold[zz=1]", "unknown option of method 'mylab_methods:Threshold': 'zz'; did you mean 'z'"),
    ("mylab_methods:weights", "needs a file after '=': weights=FILE"),
    ("mylab_methods:weights=missing.pt", "missing.pt is not a file"),
    ("mylab_methods:nameless", "built a object without name, tools, predict"),
    ("mylab_methods:bad_tools", "tools must be a set of edit tools among selection, brush, adjustment"),
    ("mylab_methods:raising", "method 'mylab_methods:raising': RuntimeError: CUDA out of memory"),
    ("mylab_broken:Net", "importing mylab_broken raised ZeroDivisionError"),
    ("manual-paint=x.pt", "method 'manual-paint' takes no argument after '=' .*write manual-paint"),
    ("editor", "method 'editor' needs a file after '=': editor=CHECKPOINT.pt"),
    ("manual-pain", "unknown method 'manual-pain'; did you mean 'manual-paint'"),
])
def test_every_broken_method_plugin_is_one_line_naming_it(plugins, spec, message):
    plugins("mylab_methods", METHODS)
    plugins("mylab_broken", "x = 1 / 0\n")
    with pytest.raises(PluginError, match=message) as info:
        make_method(spec)
    assert "\n" not in str(info.value)


def test_users_by_import_path_and_what_they_must_be(plugins):
    plugins("mylab_users", '''
        from benchmark.edits import Click

        class Sloppy:
            """Clicks the corner."""
            name = "sloppy"

            def __init__(self, mode="test", jitter=0):
                self.mode, self.jitter = mode, jitter

            def propose(self, state, rng):
                return [Click((0, 0, 0), True)]

        class Mute:
            pass

        class Fussy:
            name = "fussy"

            def __init__(self):
                raise ValueError("needs a licence")

            def propose(self, state, rng):
                return []
    ''')
    user = make_user("mylab_users:Sloppy:jitter=2", "train")
    assert (user.name, user.mode, user.jitter) == ("sloppy", "train", 2)
    with pytest.raises(PluginError, match="user 'mylab_users:Mute': built a Mute without name, propose"):
        make_user("mylab_users:Mute")
    with pytest.raises(PluginError, match="user 'mylab_users:Fussy': ValueError: needs a licence"):
        make_user("mylab_users:Fussy")
    with pytest.raises(PluginError, match="unknown option of user 'mylab_users:Sloppy': 'jiter'; did you mean 'jitter'"):
        make_user("mylab_users:Sloppy:jiter=2")


def _installed(tmp_path, monkeypatch, dist: str, version: str, entry_points: str):
    """An installed distribution, as importlib.metadata finds one: a .dist-info folder on sys.path."""
    site = tmp_path / f"site-{dist}"
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    monkeypatch.syspath_prepend(str(site))
    registered.cache_clear()


def test_entry_points_of_an_installed_package_are_found_with_their_version(plugins, tmp_path, monkeypatch):
    plugins("mylab_methods", METHODS)
    _installed(tmp_path, monkeypatch, "mylab_simedit", "0.3.1", '''
        [simedit.methods]
        thresh = mylab_methods:Threshold
        broken = mylab_gone:make
    ''')
    assert make_method("thresh[z=0.5]").z == 0.5
    assert find("method", "thresh").provenance() == {"target": "mylab_methods:Threshold",
                                                     "distribution": "mylab_simedit", "version": "0.3.1"}
    with pytest.raises(PluginError, match=r"method 'broken' \(mylab_gone:make from mylab_simedit 0.3.1\): no module "
                                          "named 'mylab_gone'; reinstall mylab_simedit"):
        make_method("broken")
    assert list(registered("method"))[-2:] == ["broken", "thresh"]  # after simedit's own


def test_a_name_two_packages_register_is_refused_with_both(plugins, tmp_path, monkeypatch):
    plugins("mylab_methods", METHODS)
    _installed(tmp_path, monkeypatch, "lab_a", "1.0", "[simedit.methods]\nnet = mylab_methods:Threshold\n")
    _installed(tmp_path, monkeypatch, "lab_b", "2.0", "[simedit.methods]\nnet = mylab_methods:weights\n")
    with pytest.raises(PluginError, match="method 'net' is registered more than once .*lab_a 1.0.*lab_b 2.0"):
        make_method("net")


def test_provenance_of_an_import_path_is_its_file_and_hash(plugins, tmp_path):
    plugins("mylab_methods", METHODS)
    record = plugin_provenance(["mylab_methods:Threshold", "manual-paint"], ["multi:target_dice=0.9"])
    mine = record["methods"]["mylab_methods:Threshold"]
    assert mine["file"] == str(tmp_path / "mylab_methods.py")
    assert mine["sha256"] == file_digest(tmp_path / "mylab_methods.py")
    assert record["methods"]["manual-paint"]["distribution"] == "simedit"
    assert record["users"]["multi:target_dice=0.9"]["target"] == "policies.multi:MultiToolUser"
