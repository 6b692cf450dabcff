# Read by the bash of JupyterLab's terminals (see jupyter_server_config.py beside this file).
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
# NOMADLAB_BIN: the directory of the kit's python and nomadlab, set by whoever started the lab.
if [ -n "$NOMADLAB_BIN" ]; then
    PATH="$NOMADLAB_BIN:$PATH"
    export PATH
fi
