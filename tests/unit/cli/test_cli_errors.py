"""The command line answers every failure with one clear line, never a traceback."""

from __future__ import annotations

import socket

import grpc
import pytest

from gateway.cli import main
from gateway.cli._common import _target, explain


def test_a_missing_certificate_is_one_line_naming_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "issue", "--config", "examples/de-node.toml", "--participant", "de-post",
                 "--scope", "submit", "--cert", "/nonexistent/post.pem"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == "gateway token: /nonexistent/post.pem: No such file or directory"


def test_a_node_that_is_not_running_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, never listened
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
        _target["address"] = address
        with grpc.insecure_channel(address) as channel:
            call = channel.unary_unary("/swg.v1.Exchange/GetStatus")
            with pytest.raises(grpc.RpcError) as info:
                call(b"", timeout=10)
    assert explain(info.value) == f"no node at {address} — is it running? (`make run`)"


def test_an_everyday_participant_profile_does_not_mint_admin_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    # Arguments in the order a person types them: the action, the id, then the profile.
    code = main(["deliveries", "retry", "m-1", "--client", "examples/clients/de-node-de-post.toml"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == ("examples/clients/de-node-de-post.toml: token.scopes: has no 'admin' scope, which this command "
                   "needs; use a profile made for it, e.g. examples/clients/de-node-admin.toml")


def test_the_operator_profile_has_admin_and_the_case_list_only() -> None:
    from gateway.client import ClientProfile

    # "assist" lists assistance cases (the console's Assistance page); no submit, receive or status.
    assert ClientProfile.load("examples/clients/de-node-admin.toml").scopes == ("admin", "assist")
    for name in ("de-node-de-post", "de-node-de-customs", "de-node-de-tax", "fr-node-fr-post", "fr-node-fr-customs"):
        assert "admin" not in ClientProfile.load(f"examples/clients/{name}.toml").scopes, name
