"""Routing on its own: deny by default, ``when`` conditions, explicit recipients, placeholders.

The directory is built in memory, so each case shows the routes it relies on. The lookup is a
dictionary-backed ``routing.Lookup`` (the Protocol the store implements for the router).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from adapters import registry
from gateway.api.swg.v1 import assistance_pb2, inspection_pb2, item_pb2, revenue_pb2
from gateway.federation import Agreement, Directory, DirectoryNode, DirectoryParticipant, Route
from gateway.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from gateway.federation import routing
from gateway.federation.routing import Router, attributes_of, matches, route_for
from gateway.store import AssistanceCaseRecord
from gateway.testing import aed_batch, inspection

HOSTS = {
    "DE/CUSTOMS/MAIN": "de-node", "DE/POST/MAIN": "de-node", "DE/TAX/MAIN": "de-node",
    "FR/CUSTOMS/MAIN": "fr-node", "FR/POST/MAIN": "fr-node",
}
AED_TO_DE = Route(registry.AED, ("*/POST/*",), ("DE/CUSTOMS/MAIN",), {"destination_country": "DE"}, True)
AED_TO_FR = Route(registry.AED, ("*/POST/*",), ("FR/CUSTOMS/MAIN",), {"destination_country": "FR"}, True)


def directory(*routes: Route, agreements: Sequence[Agreement] = ()) -> Directory:
    nodes = {n: DirectoryNode(n, "127.0.0.1:1", Path(f"/nonexistent/{n}.crt")) for n in set(HOSTS.values())}
    participants = {p: DirectoryParticipant(p, node, p, Path("/nonexistent/enc.crt"), {}) for p, node in HOSTS.items()}
    return Directory(path=Path("federation.toml"), name="test", version=1, nodes=nodes, participants=participants,
                     routes=tuple(routes), agreements={a.reference: a for a in agreements})


class Lookup:
    """What the store would answer: the AED sender of each item, the sender of each message."""

    def __init__(self, item_senders: dict[str, str] | None = None, senders: dict[str, str] | None = None,
                 cases: dict[str, AssistanceCaseRecord] | None = None):
        self.item_senders = item_senders or {}
        self.senders = senders or {}
        self.cases = cases or {}
        self.asked: list[tuple[str, ...]] = []

    def owners_of_items(self, item_ids: Sequence[str], declared_to: str) -> dict[str, str]:
        self.asked.append(tuple(item_ids))
        return {i: self.item_senders[i] for i in item_ids if i in self.item_senders}

    def sender_of(self, message_id: str) -> str | None:
        return self.senders.get(message_id)

    def assistance_case(self, request_message_id: str) -> AssistanceCaseRecord | None:
        return self.cases.get(request_message_id)


def route(router: Router, sender: str, document_type: str, doc: object, explicit: Sequence[str] = (),
          in_reply_to: str = "") -> routing.RouteDecision:
    return router.route(sender=sender, document_type=document_type, doc=doc,  # type: ignore[arg-type]
                        explicit=list(explicit), in_reply_to=in_reply_to)


# --- patterns ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, participant, expected", [
    ("*", "DE/CUSTOMS/MAIN", True),
    ("DE/CUSTOMS/MAIN", "DE/CUSTOMS/MAIN", True),
    ("*/CUSTOMS/*", "FR/CUSTOMS/MAIN", True),
    ("*/CUSTOMS/*", "FR/POST/MAIN", False),
    ("DE/*/*", "FR/CUSTOMS/MAIN", False),
    ("*/CUSTOMS", "DE/CUSTOMS/MAIN", False),
    ("DE/CUSTOMS/MAIN", "DE/CUSTOMS/MAIN2", False),
    ("DE/CUST*/MAIN", "DE/CUSTOMS/MAIN", False),
])
def test_a_star_stands_for_one_whole_component(pattern: str, participant: str, expected: bool) -> None:
    assert matches(pattern, participant) is expected


# --- deny by default -----------------------------------------------------------------------------------

def test_a_directory_without_routes_denies_everything() -> None:
    with pytest.raises(PermissionDenied, match="no route in the directory allows it"):
        route(Router(directory(), Lookup()), "FR/POST/MAIN", registry.AED, aed_batch(destination="DE"))


def test_a_route_for_other_senders_does_not_let_this_one_send() -> None:
    router = Router(directory(AED_TO_DE), Lookup())
    with pytest.raises(PermissionDenied, match="DE/CUSTOMS/MAIN may not send swg.aed.v1"):
        route(router, "DE/CUSTOMS/MAIN", registry.AED, aed_batch(destination="DE"))


def test_a_route_for_another_document_type_does_not_apply() -> None:
    router = Router(directory(AED_TO_DE), Lookup())
    with pytest.raises(PermissionDenied, match="may not send swg.inspection.v1"):
        route(router, "FR/POST/MAIN", registry.INSPECTION, inspection(["RR123456785FR"]))


def test_when_no_condition_holds_there_is_no_default_recipient_and_the_refusal_names_the_facts() -> None:
    router = Router(directory(AED_TO_DE, AED_TO_FR), Lookup())
    with pytest.raises(PermissionDenied, match=r"no default recipient .*destination_country=IT.*origin_country=FR"):
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(destination="IT"))


def test_a_route_that_is_only_an_access_right_gives_no_default_recipient() -> None:
    right = Route(registry.AED, ("*/POST/*",), ("*/CUSTOMS/*",), {}, False)
    router = Router(directory(right), Lookup())
    with pytest.raises(PermissionDenied, match="no default recipient"):
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(destination="DE"))
    assert route(router, "FR/POST/MAIN", registry.AED, aed_batch(destination="DE"),
                 explicit=["DE/CUSTOMS/MAIN"]).recipients == ("DE/CUSTOMS/MAIN",)


def test_a_default_recipient_outside_the_federation_is_refused() -> None:
    stray = Route(registry.AED, ("*/POST/*",), ("IT/CUSTOMS/MAIN",), {}, True)
    with pytest.raises(PermissionDenied, match="IT/CUSTOMS/MAIN is not a participant of the federation"):
        route(Router(directory(stray), Lookup()), "FR/POST/MAIN", registry.AED, aed_batch(destination="IT"))


# --- default routes and conditions ---------------------------------------------------------------------

def test_the_route_whose_conditions_hold_gives_the_recipients_and_the_decision_carries_attributes_and_items() -> None:
    router = Router(directory(AED_TO_DE, AED_TO_FR), Lookup())
    batch = aed_batch(2, destination="FR", origin="DE")
    decision = route(router, "DE/POST/MAIN", registry.AED, batch)
    assert decision.recipients == ("FR/CUSTOMS/MAIN",)
    assert decision.attributes == {"destination_country": "FR", "origin_country": "DE"}
    assert decision.item_ids == tuple(i.item_id for i in batch.items)


def test_default_recipients_are_deduplicated_skip_patterns_and_never_include_the_sender() -> None:
    many = Route(registry.AED, ("*/POST/*",), ("DE/CUSTOMS/MAIN", "*/TAX/*", "FR/POST/MAIN", "DE/CUSTOMS/MAIN"),
                 {}, True)
    also = Route(registry.AED, ("*/POST/*",), ("DE/TAX/MAIN", "DE/CUSTOMS/MAIN"), {}, True)
    decision = route(Router(directory(many, also), Lookup()), "FR/POST/MAIN", registry.AED, aed_batch())
    assert decision.recipients == ("DE/CUSTOMS/MAIN", "DE/TAX/MAIN")


def test_every_condition_of_a_route_must_hold() -> None:
    both = Route(registry.AED, ("*/POST/*",), ("DE/CUSTOMS/MAIN",),
                 {"destination_country": "DE", "origin_country": "CN"}, True)
    router = Router(directory(both), Lookup())
    with pytest.raises(PermissionDenied, match="no default recipient"):
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(origin="FR", destination="DE"))
    assert route(router, "FR/POST/MAIN", registry.AED,
                 aed_batch(origin="CN", destination="DE")).recipients == ("DE/CUSTOMS/MAIN",)


def test_duties_assessed_is_a_routing_attribute_of_inspection_results() -> None:
    to_tax = Route(registry.INSPECTION, ("DE/CUSTOMS/*",), ("DE/TAX/MAIN",), {"duties_assessed": "true"}, True)
    to_post = Route(registry.INSPECTION, ("DE/CUSTOMS/*",), ("FR/POST/MAIN",), {}, True)
    router = Router(directory(to_tax, to_post), Lookup())
    released = route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR123456785FR"]))
    assert released.recipients == ("FR/POST/MAIN",)
    assert released.attributes == {"duties_assessed": "false"}
    taxed = route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR123456785FR"], taxes=True))
    assert taxed.recipients == ("DE/TAX/MAIN", "FR/POST/MAIN")
    assessed = inspection(["RR123456785FR"], outcome=inspection_pb2.INSPECTION_OUTCOME_DUTIES_ASSESSED)
    assert route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, assessed).attributes == {"duties_assessed": "true"}


# --- explicit recipients -------------------------------------------------------------------------------

def test_explicit_recipients_need_a_route_whose_recipients_cover_them() -> None:
    right = Route(registry.AED, ("*/POST/*",), ("*/CUSTOMS/*",), {}, False)
    router = Router(directory(right), Lookup())
    ok = route(router, "FR/POST/MAIN", registry.AED, aed_batch(),
               explicit=["FR/CUSTOMS/MAIN", "DE/CUSTOMS/MAIN", "FR/CUSTOMS/MAIN"])
    assert ok.recipients == ("FR/CUSTOMS/MAIN", "DE/CUSTOMS/MAIN")
    with pytest.raises(PermissionDenied, match="FR/POST/MAIN may not send swg.aed.v1 to DE/TAX/MAIN"):
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(), explicit=["DE/CUSTOMS/MAIN", "DE/TAX/MAIN"])


def test_explicit_recipients_are_only_covered_by_routes_whose_conditions_hold() -> None:
    router = Router(directory(AED_TO_DE, AED_TO_FR), Lookup())
    with pytest.raises(PermissionDenied, match="to FR/CUSTOMS/MAIN"):
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(destination="DE"), explicit=["FR/CUSTOMS/MAIN"])


def test_unknown_explicit_recipients_are_named_by_position() -> None:
    router = Router(directory(AED_TO_DE), Lookup())
    with pytest.raises(InvalidArgument) as err:
        route(router, "FR/POST/MAIN", registry.AED, aed_batch(destination="DE"),
              explicit=["DE/CUSTOMS/MAIN", "XX/NOBODY/MAIN", "YY/NOBODY/MAIN"])
    assert [(v.field, v.description) for v in err.value.violations] == [
        ("recipients[1]", "unknown participant 'XX/NOBODY/MAIN'"),
        ("recipients[2]", "unknown participant 'YY/NOBODY/MAIN'"),
    ]


# --- placeholders --------------------------------------------------------------------------------------

ITEM_SENDER = Route(registry.INSPECTION, ("*/CUSTOMS/*",), (routing.ITEM_SENDER,), {}, True)
REPLY_TO = Route(registry.ASSISTANCE_RESPONSE, ("*/CUSTOMS/*",), (routing.REPLY_TO_SENDER,), {}, True)


def test_item_sender_is_whoever_sent_the_aed_of_the_items() -> None:
    lookup = Lookup(item_senders={"RR1": "FR/POST/MAIN", "RR2": "FR/POST/MAIN", "RR3": "DE/POST/MAIN"})
    router = Router(directory(ITEM_SENDER), lookup)
    decision = route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR1", "RR2", "RR3"]))
    assert decision.recipients == ("DE/POST/MAIN", "FR/POST/MAIN")
    assert lookup.asked == [("RR1", "RR2", "RR3")]


def test_a_decision_on_an_item_nobody_declared_is_refused_naming_it_unless_its_post_is_named() -> None:
    lookup = Lookup(item_senders={"RR1": "FR/POST/MAIN"})
    to_tax = Route(registry.INSPECTION, ("DE/CUSTOMS/*",), ("DE/TAX/MAIN",), {}, True)
    router = Router(directory(ITEM_SENDER, to_tax), lookup)
    with pytest.raises(FailedPrecondition) as info:  # not "no route", and not to the tax authority alone
        route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR1", "RR9"]))
    assert info.value.message.startswith("results[1].item_id: RR9 was not declared to DE/CUSTOMS/MAIN by any post")
    aed_route = Route(registry.AED, ("*/POST/*",), ("DE/CUSTOMS/MAIN",), {}, True)
    router = Router(directory(ITEM_SENDER, to_tax, aed_route), lookup)
    named = route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR9"]), explicit=["FR/POST/MAIN"])
    assert named.recipients == ("FR/POST/MAIN",)
    # Only a participant that may declare items to this customs can be named that way.
    with pytest.raises(PermissionDenied, match="FR/CUSTOMS/MAIN"):
        route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR9"]), explicit=["FR/CUSTOMS/MAIN"])


def test_a_recipient_reached_only_as_item_sender_is_entitled_to_its_own_entries_only() -> None:
    lookup = Lookup(item_senders={"RR1": "FR/POST/MAIN", "RR2": "DE/POST/MAIN", "RR3": "FR/POST/MAIN"})
    to_tax = Route(registry.INSPECTION, ("DE/CUSTOMS/*",), ("DE/TAX/MAIN",), {}, True)
    router = Router(directory(ITEM_SENDER, to_tax), lookup)
    decision = route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR1", "RR2", "RR3"]))
    assert decision.recipients == ("DE/POST/MAIN", "FR/POST/MAIN", "DE/TAX/MAIN")
    assert decision.partial == (("DE/POST/MAIN", (1,)), ("FR/POST/MAIN", (0, 2)))  # the tax authority: all
    part = routing.entries_subset(registry.INSPECTION, inspection(["RR1", "RR2", "RR3"]), (0, 2))
    assert [r.item_id for r in part.results] == ["RR1", "RR3"]  # type: ignore[attr-defined]
    # All items of one post: nothing to split.
    assert route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR1", "RR3"])).partial == ()


def test_a_relayed_document_that_gives_a_post_entries_on_others_items_is_refused() -> None:
    lookup = Lookup(item_senders={"RR1": "DE/POST/MAIN", "RR2": "FR/POST/MAIN"})
    router = Router(directory(ITEM_SENDER), lookup)
    with pytest.raises(PermissionDenied, match=r"only on items it declared to FR/CUSTOMS/MAIN; "
                                               r"results\[1\].item_id RR2 is not one of them"):
        router.route(sender="FR/CUSTOMS/MAIN", document_type=registry.INSPECTION, doc=inspection(["RR1", "RR2"]),
                     explicit=["DE/POST/MAIN"], in_reply_to="", relayed=True)
    ok = router.route(sender="FR/CUSTOMS/MAIN", document_type=registry.INSPECTION, doc=inspection(["RR1"]),
                      explicit=["DE/POST/MAIN"], in_reply_to="", relayed=True)
    assert ok.recipients == ("DE/POST/MAIN",) and ok.partial == ()


def test_item_sender_of_items_nobody_announced_is_no_one_so_the_document_is_refused() -> None:
    router = Router(directory(ITEM_SENDER), Lookup())
    with pytest.raises(FailedPrecondition, match="RR1 was not declared to DE/CUSTOMS/MAIN by any post"):
        route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection(["RR1"]))


def test_item_sender_of_a_document_without_items_is_resolved_without_asking() -> None:
    lookup = Lookup()
    router = Router(directory(ITEM_SENDER), lookup)
    with pytest.raises(PermissionDenied):
        route(router, "DE/CUSTOMS/MAIN", registry.INSPECTION, inspection([]))
    assert lookup.asked == []


def _answer() -> assistance_pb2.AssistanceResponse:
    return assistance_pb2.AssistanceResponse(requesting_administration="FR/CUSTOMS/MAIN",
                                             requested_administration="DE/CUSTOMS/MAIN",
                                             agreement_reference="CMAA-DE-FR-2004")


def _case(answer: str = "", asker: str = "FR/CUSTOMS/MAIN", asked: str = "DE/CUSTOMS/MAIN",
          agreement: str = "CMAA-DE-FR-2004") -> AssistanceCaseRecord:
    return AssistanceCaseRecord("q-1", "c-1", asker, asked, agreement, 1, 2, answer, 3 if answer else None)


def _answer_router(case: AssistanceCaseRecord | None = None, *extra: Route) -> Router:
    return Router(directory(REPLY_TO, *extra, agreements=[CMAA]),
                  Lookup(senders={"q-1": "FR/CUSTOMS/MAIN", "aed-1": "FR/POST/MAIN"},
                         cases={"q-1": case or _case()}))


def test_reply_to_sender_is_the_sender_of_the_message_replied_to() -> None:
    router = _answer_router()
    decision = route(router, "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, _answer(), in_reply_to="q-1")
    assert decision.recipients == ("FR/CUSTOMS/MAIN",)
    assert decision.attributes == {"agreement_reference": "CMAA-DE-FR-2004"}


def test_an_answer_to_a_message_that_opened_no_case_is_refused() -> None:
    # The AED aed-1 is a message the customs took part in, but no assistance request.
    for in_reply_to in ("q-unknown", "aed-1"):
        with pytest.raises(FailedPrecondition, match="names no assistance request"):
            route(_answer_router(), "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, _answer(),
                  in_reply_to=in_reply_to)


def test_an_answered_case_takes_no_other_answer_but_the_same_one_again() -> None:
    router = _answer_router(_case(answer="a-1"))
    with pytest.raises(FailedPrecondition, match="already answered"):
        route(router, "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, _answer(), in_reply_to="q-1")
    # The same answer relayed again (its first response lost) is not refused.
    assert route_answer_again(router).recipients == ("FR/CUSTOMS/MAIN",)


def route_answer_again(router: Router) -> routing.RouteDecision:
    return router.route(sender="DE/CUSTOMS/MAIN", document_type=registry.ASSISTANCE_RESPONSE, doc=_answer(),
                        explicit=[], in_reply_to="q-1", message_id="a-1")


@pytest.mark.parametrize("case, answer, match", [
    (_case(asked="FR/CUSTOMS/MAIN", asker="DE/CUSTOMS/MAIN"), None, "only FR/CUSTOMS/MAIN"),
    (_case(agreement="CMAA-OTHER"), None, "was made under CMAA-OTHER"),
    (_case(), {"requesting_administration": "DE/TAX/MAIN"}, "came from FR/CUSTOMS/MAIN"),
    (_case(), {"agreement_reference": "CMAA-OTHER"}, "names agreement 'CMAA-OTHER'"),
])
def test_an_answer_comes_from_the_administration_asked_under_the_agreement_of_its_request(
        case: AssistanceCaseRecord, answer: dict[str, str] | None, match: str) -> None:
    doc = _answer()
    for name, value in (answer or {}).items():
        setattr(doc, name, value)
    with pytest.raises(PermissionDenied, match=match):
        route(_answer_router(case), "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, doc, in_reply_to="q-1")


def test_an_answer_goes_to_the_requesting_administration_only() -> None:
    anyone = Route(registry.ASSISTANCE_RESPONSE, ("*/CUSTOMS/*",), ("*/POST/*",), {}, False)
    with pytest.raises(PermissionDenied, match="goes to FR/CUSTOMS/MAIN only, not to FR/POST/MAIN"):
        route(_answer_router(None, anyone), "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, _answer(),
              explicit=["FR/POST/MAIN"], in_reply_to="q-1")


def test_an_answer_must_name_what_it_answers_before_it_is_routed() -> None:
    router = Router(directory(REPLY_TO), Lookup(senders={"q-1": "FR/CUSTOMS/MAIN"}))
    with pytest.raises(InvalidArgument) as err:
        route(router, "DE/CUSTOMS/MAIN", registry.ASSISTANCE_RESPONSE, _answer())
    assert [v.field for v in err.value.violations] == ["in_reply_to"]


CMAA = Agreement("CMAA-DE-FR-2004", "CMAA DE-FR, art. 4", ("DE", "FR"), ("FR/CUSTOMS/MAIN",),
                 ("DE/CUSTOMS/MAIN",), ("goods",), ())
ASK = Route(registry.ASSISTANCE_REQUEST, ("*/CUSTOMS/*",), (routing.REQUESTED_ADMINISTRATION,), {}, True)


def _request(asked: str = "DE/CUSTOMS/MAIN", agreement: str = "CMAA-DE-FR-2004") -> assistance_pb2.AssistanceRequest:
    req = assistance_pb2.AssistanceRequest(
        requesting_administration="FR/CUSTOMS/MAIN", requested_administration=asked,
        agreement_reference=agreement, legal_basis="CMAA DE-FR, art. 4", purpose="why was it held",
        assistance_type=assistance_pb2.ASSISTANCE_TYPE_INFORMATION_ON_GOODS, information_category="goods",
        requesting_officer=assistance_pb2.Officer(name="Inspecteur Martin", officer_id="FR-4711"))
    req.deadline.FromSeconds(4_102_444_800)  # 2100-01-01
    return req


def test_requested_administration_is_the_addressee_named_in_the_request() -> None:
    router = Router(directory(ASK, agreements=[CMAA]), Lookup())
    decision = route(router, "FR/CUSTOMS/MAIN", registry.ASSISTANCE_REQUEST, _request())
    assert decision.recipients == ("DE/CUSTOMS/MAIN",)
    assert decision.attributes == {"requested_administration": "DE/CUSTOMS/MAIN",
                                   "agreement_reference": "CMAA-DE-FR-2004", "information_category": "goods"}


def test_a_request_under_no_agreement_of_the_directory_is_refused_although_a_route_allows_it() -> None:
    router = Router(directory(ASK), Lookup())
    with pytest.raises(PermissionDenied, match="no agreement 'CMAA-DE-FR-2004' in the directory"):
        route(router, "FR/CUSTOMS/MAIN", registry.ASSISTANCE_REQUEST, _request())


def test_a_request_to_an_administration_the_agreement_does_not_cover_is_refused() -> None:
    router = Router(directory(ASK, agreements=[CMAA]), Lookup())
    with pytest.raises(PermissionDenied, match="does not let FR/CUSTOMS/MAIN ask FR/POST/MAIN"):
        route(router, "FR/CUSTOMS/MAIN", registry.ASSISTANCE_REQUEST, _request(asked="FR/POST/MAIN"))


def test_only_placeholders_read_from_the_database_make_routing_need_a_lookup() -> None:
    router = Router(directory(AED_TO_DE, ITEM_SENDER, REPLY_TO, ASK), Lookup())
    assert router.needs_lookup(registry.INSPECTION)
    assert router.needs_lookup(registry.ASSISTANCE_RESPONSE)
    assert not router.needs_lookup(registry.ASSISTANCE_REQUEST)
    assert not router.needs_lookup(registry.AED)
    assert not router.needs_lookup(registry.REVENUE)


# --- routing attributes --------------------------------------------------------------------------------

def test_an_aed_must_concern_one_destination_country_and_the_odd_item_is_named() -> None:
    batch = aed_batch(3, destination="DE")
    batch.items[2].destination_country = "FR"
    with pytest.raises(InvalidArgument) as err:
        attributes_of(registry.AED, batch)
    assert [v.field for v in err.value.violations] == ["items[2].destination_country"]


def test_an_aed_of_several_origin_countries_is_accepted_without_an_origin_attribute() -> None:
    batch = aed_batch(2, origin="FR")
    assert attributes_of(registry.AED, batch)[0]["origin_country"] == "FR"
    batch.items[1].origin_country = "CN"  # real IPS exports mix origins
    assert "origin_country" not in attributes_of(registry.AED, batch)[0]


def test_empty_attributes_are_left_out_and_an_empty_batch_has_none() -> None:
    assert attributes_of(registry.AED, item_pb2.ItemBatch()) == ({}, ())
    batch = aed_batch(2)
    for it in batch.items:
        it.origin_country = ""
    attrs, items = attributes_of(registry.AED, batch)
    assert attrs == {"destination_country": "DE"}
    assert len(items) == 2


def test_revenue_notices_must_concern_one_destination_country() -> None:
    notices = revenue_pb2.RevenueNoticeBatch()
    notices.notices.add(item_id="RR1", destination_country="DE")
    notices.notices.add(item_id="RR2", destination_country="AT")
    with pytest.raises(InvalidArgument) as err:
        attributes_of(registry.REVENUE, notices)
    assert [v.field for v in err.value.violations] == ["notices[1].destination_country"]
    del notices.notices[1]
    assert attributes_of(registry.REVENUE, notices) == ({"destination_country": "DE"}, ("RR1",))


def test_unknown_document_types_have_no_attributes() -> None:
    assert attributes_of("swg.other.v1", item_pb2.ItemBatch()) == ({}, ())


# --- where a delivery goes -----------------------------------------------------------------------------

def test_route_for_is_local_for_hosted_recipients_else_the_hosting_node() -> None:
    d = directory()
    assert route_for(d, "DE/TAX/MAIN", "de-node") == "local"
    assert route_for(d, "FR/POST/MAIN", "de-node") == "fr-node"
    with pytest.raises(NotFound, match="IT/CUSTOMS/MAIN is not in the directory"):
        route_for(d, "IT/CUSTOMS/MAIN", "de-node")


def test_an_assistance_request_names_the_valid_s10_ids_of_its_subjects_once() -> None:
    req = assistance_pb2.AssistanceRequest(requested_administration="DE/CUSTOMS/MAIN",
                                           agreement_reference="CMAA-DE-FR-2004", information_category="goods")
    req.subjects.add(item_ids=["RR123456785DE", "not an id", "RR123456785DE"])
    req.subjects.add(item_ids=["RR123456784DE", "CP000000014FR"], person_name="A. Person")
    _, items = attributes_of(registry.ASSISTANCE_REQUEST, req)
    assert items == ("RR123456785DE", "CP000000014FR")
