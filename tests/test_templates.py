"""The template renderer against Go text/template and consul-template's documented outputs."""

from __future__ import annotations

import re

import pytest

from nomadlab.practice.templates import TemplateError, parse_env, render

REGISTRATIONS = [
    {
        "ID": "_nomad-task-aaaa-group-api-backend-http",
        "ServiceName": "backend",
        "Namespace": "default",
        "NodeID": "node-1",
        "Datacenter": "dc1",
        "JobID": "backend",
        "AllocID": "aaaa",
        "Tags": ["v1", "api"],
        "Address": "127.0.0.1",
        "Port": 21000,
    },
    {
        "ID": "_nomad-task-bbbb-group-api-backend-http",
        "ServiceName": "backend",
        "Namespace": "default",
        "NodeID": "node-1",
        "Datacenter": "dc1",
        "JobID": "backend",
        "AllocID": "bbbb",
        "Tags": ["v2"],
        "Address": "127.0.0.1",
        "Port": 21001,
    },
]


class Sources:
    """Registrations and an environment, as the client gives them to a template."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    def service(self, name: str, namespace: str, choose: str) -> list[dict]:
        self.asked.append((name, namespace, choose))
        found = [r for r in REGISTRATIONS if r["ServiceName"] == name]
        return found[: int(choose.split("|")[0])] if choose else found

    def services(self, namespace: str) -> list[dict]:
        return [{"ServiceName": "backend", "Tags": ["v2", "v1", "api"]}]

    def env(self, name: str) -> str:
        return {"NOMAD_ALLOC_ID": "cccc"}.get(name, "")


def r(text: str, sources: Sources | None = None) -> str:
    return render(text, sources or Sources(), name="test")


def test_the_get_started_upstream_template() -> None:
    # HashiCorp's tutorial: one line per instance of the service.
    text = '{{ range nomadService "backend" }}\nserver {{ .Address }}:{{ .Port }};\n{{ end }}'
    assert r(text) == "\nserver 127.0.0.1:21000;\n\nserver 127.0.0.1:21001;\n"
    trimmed = '{{- range nomadService "backend" }}\nserver {{ .Address }}:{{ .Port }};\n{{- end }}'
    assert r(trimmed) == "\nserver 127.0.0.1:21000;\nserver 127.0.0.1:21001;"


def test_every_field_of_a_nomad_service() -> None:
    text = (
        '{{ with index (nomadService "backend") 0 }}{{ .ID }} {{ .Name }} {{ .Node }} '
        "{{ .Address }} {{ .Port }} {{ .Datacenter }} {{ .Tags }} {{ .JobID }} "
        "{{ .AllocID }}{{ end }}"
    )
    assert r(text) == (
        "_nomad-task-aaaa-group-api-backend-http backend node-1 127.0.0.1 21000 dc1 "
        "[api v1] backend aaaa"
    )
    with pytest.raises(TemplateError, match="can't evaluate field Colour"):
        r('{{ range nomadService "backend" }}{{ .Colour }}{{ end }}')


def test_tag_filter_namespace_and_choose() -> None:
    sources = Sources()
    assert r('{{ range nomadService "v2.backend" }}{{ .Port }}{{ end }}', sources) == "21001"
    assert r('{{ range nomadService "backend?ns=prod" }}{{ .Port }} {{ end }}', sources)
    text = '{{ range nomadService 1 (env "NOMAD_ALLOC_ID") "backend" }}{{ .Port }}{{ end }}'
    assert r(text, sources) == "21000"
    assert sources.asked == [
        ("backend", "", ""),
        ("backend", "prod", ""),
        ("backend", "", "1|cccc"),
    ]
    with pytest.raises(TemplateError, match="expected integer for <count> argument"):
        r('{{ nomadService "1" "k" "backend" }}')
    with pytest.raises(TemplateError, match="invalid format"):
        r('{{ nomadService "bad name!" }}')


def test_nomad_services_lists_names_with_sorted_tags() -> None:
    assert r("{{ range nomadServices }}{{ .Name }} {{ .Tags }}{{ end }}") == "backend [api v1 v2]"


def test_to_json_join_split_printf() -> None:
    assert r('{{ nomadService "v2.backend" | toJSON }}') == (
        '[{"ID":"_nomad-task-bbbb-group-api-backend-http","Name":"backend","Node":"node-1",'
        '"Address":"127.0.0.1","Port":21001,"Datacenter":"dc1","Tags":["v2"],"JobID":"backend",'
        '"AllocID":"bbbb"}]'
    )
    assert r('{{ "<a&b>" | toJSON }}') == '"\\u003ca\\u0026b\\u003e"'
    assert r('{{ "a,b,c" | split "," | join "-" }}') == "a-b-c"
    assert r('{{ split "," "" | len }}') == "0"
    assert r('{{ printf "%s:%d %q %5s|%-3d|" "h" 80 "x" "r" 7 }}') == 'h:80 "x"     r|7  |'
    assert r('{{ printf "%d" "x" }}') == "%!d(string=x)"


def test_control_flow_variables_and_comparisons() -> None:
    text = (
        '{{ $n := 0 }}{{ range $i, $s := nomadService "backend" }}'
        "{{ if eq $i 0 }}first={{ $s.Port }}{{ else if gt $s.Port 21000 }} later={{ .Port }}"
        "{{ else }}?{{ end }}{{ $n = $s.Port }}{{ end }} last={{ $n }}"
    )
    assert r(text) == "first=21000 later=21001 last=21001"
    assert r('{{ range nomadService "none" }}x{{ else }}no instances{{ end }}') == "no instances"
    assert r('{{ with env "MISSING" }}set{{ else }}unset{{ end }}') == "unset"
    assert r('{{ if and true (or false "y") (not false) }}yes{{ end }}') == "yes"
    assert r("{{/* a comment */}}a {{- /* trimmed */ -}} b") == "ab"
    assert r('{{ if contains "v1" (index (nomadService "backend") 0).Tags }}tagged{{ end }}') == (
        "tagged"
    )
    assert r("{{ 3 }} {{ true }} {{ nil }} {{ 1.5 }}") == "3 true <no value> 1.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{{ range service "backend" }}{{ end }}', 'function "service" not defined'),
        ('{{ key "app/config" }}', 'function "key" not defined'),
        ('{{ "x" | sprig_upper }}', 'function "sprig_upper" not defined'),
        ("{{ if true }}open", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ .Port", "unclosed action"),
        ('{{ template "x" }}', "not supported"),
        ("{{ $missing }}", "undefined variable: $missing"),
    ],
)
def test_errors_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)) as err:
        r(text)
    assert str(err.value).startswith("template: test:")


def test_custom_delimiters_and_env_files() -> None:
    assert render('[[ env "NOMAD_ALLOC_ID" ]] {{ x }}', Sources(), left="[[", right="]]") == (
        "cccc {{ x }}"
    )
    assert parse_env('# upstreams\nBACKENDS="127.0.0.1:1,127.0.0.1:2"\n\nexport MODE=fast\n') == {
        "BACKENDS": "127.0.0.1:1,127.0.0.1:2",
        "MODE": "fast",
    }
    with pytest.raises(TemplateError, match="line 1"):
        parse_env("no equals sign")


def test_a_template_cannot_run_or_write_without_bound() -> None:
    assert r("{{ range 3 }}{{ . }}{{ end }}") == "012"
    with pytest.raises(TemplateError, match="more than 1000000 steps"):
        r("{{ range 2000000 }}{{ end }}")
    with pytest.raises(TemplateError, match="more than 1000000 steps"):
        r("{{ range 1001 }}{{ range 1000 }}{{ end }}{{ end }}")
    with pytest.raises(TemplateError, match="output over"):
        r('{{ range 600 }}{{ printf "%2000s" "x" }}{{ end }}')
    with pytest.raises(TemplateError, match="width"):
        r('{{ printf "%999999999s" "x" }}')
