# The kit's Jupyter server settings, read through JUPYTER_CONFIG_PATH (set by `make lab`,
# `nomadlab lab` and binder/start). Terminals start bash with terminal.bashrc: the learner's
# own ~/.bashrc first, then the kit's bin directory first on PATH, so that `nomadlab` and
# `python` are the kit's even where a login shell or a conda hook would reorder PATH.
from pathlib import Path

c = get_config()  # noqa: F821 (provided by Jupyter's config loader)
c.ServerApp.terminado_settings = {
    "shell_command": ["bash", "--rcfile", str(Path(__file__).with_name("terminal.bashrc")), "-i"]
}
