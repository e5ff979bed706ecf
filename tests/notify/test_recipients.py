"""Property tests: no contact ever gets an item above its clearance; RED never automatic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from certmon.notify.recipients import AlertItem, Recipient, allot, in_mode, may_receive
from certmon.tlp import TLP

tlps = st.sampled_from(list(TLP))
severities = st.sampled_from(["low", "medium", "high", "critical"])
recipients = st.builds(
    Recipient,
    email=st.emails(),
    constituent_id=st.integers(1, 3),
    tlp_max=tlps,
    mode=st.sampled_from(["immediate", "digest"]),
    min_severity=severities,
)
items = st.lists(
    st.builds(AlertItem, match_id=st.integers(1, 10_000), tlp=tlps, severity=severities), max_size=20
)


@settings(max_examples=400, deadline=None)  # a busy CI machine must not fail it on time
@given(
    cid=st.integers(1, 3),
    rcpts=st.lists(recipients, max_size=6),
    its=items,
    mode=st.sampled_from(["immediate", "digest", "reminder"]),
)
def test_no_item_above_clearance_and_no_red(
    cid: int, rcpts: list[Recipient], its: list[AlertItem], mode: str
) -> None:
    for share in allot(cid, rcpts, its, mode=mode):
        for item in share.items:
            assert item.tlp <= share.recipient.tlp_max
            assert item.tlp != TLP.RED
            if item.tlp == TLP.AMBER_STRICT:
                assert share.recipient.constituent_id == cid
        assert share.tlp <= share.recipient.tlp_max
        in_scope = [i for i in its if in_mode(share.recipient, i, mode)]
        assert share.withheld == len(in_scope) - len(share.items)


@given(rcpt=recipients, tlp=tlps, cid=st.integers(1, 3))
def test_manual_allows_red_only_to_cleared(rcpt: Recipient, tlp: TLP, cid: int) -> None:
    if may_receive(rcpt, tlp, cid, automatic=False):
        assert tlp <= rcpt.tlp_max


def test_concrete_split() -> None:
    own = Recipient("a@bergen.kommune.no", 1, TLP.AMBER, min_severity="low")
    strict = Recipient("b@bergen.kommune.no", 1, TLP.AMBER_STRICT, min_severity="low")
    other = Recipient("c@vestland.no", 2, TLP.AMBER_STRICT, min_severity="low")
    its = [AlertItem(1, TLP.GREEN), AlertItem(2, TLP.AMBER_STRICT), AlertItem(3, TLP.RED)]
    a, b, c = allot(1, [own, strict, other], its)
    assert [i.match_id for i in a.items] == [1] and a.withheld == 2
    assert [i.match_id for i in b.items] == [1, 2] and b.withheld == 1 and b.tlp == TLP.AMBER_STRICT
    assert [i.match_id for i in c.items] == [1] and c.withheld == 2


def test_modes_split_by_severity() -> None:
    quick = Recipient("a@x.no", 1, TLP.AMBER, mode="immediate", min_severity="high")
    daily = Recipient("b@x.no", 1, TLP.AMBER, mode="digest")
    its = [AlertItem(1, TLP.CLEAR, "critical"), AlertItem(2, TLP.CLEAR, "medium")]
    now_a, now_b = allot(1, [quick, daily], its, mode="immediate")
    assert [i.match_id for i in now_a.items] == [1] and not now_b.items
    later_a, later_b = allot(1, [quick, daily], its, mode="digest")
    assert [i.match_id for i in later_a.items] == [2]
    assert [i.match_id for i in later_b.items] == [1, 2]
