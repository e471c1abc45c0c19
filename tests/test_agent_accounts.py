"""Agent accounts and the login limit on the real schema (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.core import agents, login_limit
from kefu.core.models import Agent, utcnow


def test_the_limit_stops_one_address_without_locking_the_name(session):
    now = utcnow()
    for _ in range(login_limit.MAX_PER_NAME_AND_IP):
        assert login_limit.admit(session, "小王", "203.0.113.9", now).allowed
    assert not login_limit.admit(session, "小王", "203.0.113.9", now).allowed
    # The agent's own address is admitted; the name's failures only slow it down.
    verdict = login_limit.admit(session, "小王", "198.51.100.7", now)
    assert verdict.allowed and 0 < verdict.delay <= login_limit.DELAY_CAP_SECONDS
    # Spread over many addresses, each further guess waits longer, up to the cap.
    delays = [login_limit.admit(session, "小王", f"192.0.2.{i}", now).delay for i in range(10)]
    assert delays == sorted(delays) and delays[0] > verdict.delay and delays[-1] == login_limit.DELAY_CAP_SECONDS
    assert login_limit.admit(session, "小李", "203.0.113.9", now) == login_limit.Verdict(True, 0.0)
    # A success forgets that address's failures; a supervisor's unlock forgets them all.
    login_limit.clear(session, "小王", "203.0.113.9")
    assert login_limit.admit(session, "小王", "203.0.113.9", now).allowed
    login_limit.unlock(session, "小王")
    assert login_limit.admit(session, "小王", "192.0.2.1", now) == login_limit.Verdict(True, 0.0)
    # After the window, everything is forgotten.
    later = now + login_limit.WINDOW + timedelta(seconds=1)
    for _ in range(login_limit.MAX_PER_NAME_AND_IP):
        login_limit.admit(session, "小赵", "203.0.113.10", now)
    assert login_limit.admit(session, "小赵", "203.0.113.10", later) == login_limit.Verdict(True, 0.0)


def test_one_address_is_stopped_after_twenty_failures_over_any_names(session):
    now = utcnow()
    for i in range(login_limit.MAX_PER_IP):
        assert login_limit.admit(session, f"name-{i}", "203.0.113.20", now).allowed
    assert not login_limit.admit(session, "someone-else", "203.0.113.20", now).allowed


def test_names_are_nfkc_without_invisible_characters_or_case_twins(session):
    agent, _ = agents.add_agent(session, "  Ｗａｎｇ　Ｌｅｉ ")
    assert agent.name == "Wang Lei"
    for bad in ("Wang\u200bLei", "Wang\u00adLei", "\u202eWang", "Wang\u3164", "Wang\tLei", "Wang  Lei", "", "x" * 65):
        with pytest.raises(agents.BadAgentName):
            agents.add_agent(session, bad)
    for twin in ("wang lei", "WANG LEI", "Ｗａｎｇ Ｌｅｉ"):
        with pytest.raises(agents.AgentExists):
            agents.add_agent(session, twin)
    assert agents.find_agent(session, "Ｗａｎｇ　Ｌｅｉ").id == agent.id


def test_an_account_from_before_normalisation_still_signs_in(session):
    session.add(Agent(name="ｌｅｇａｃｙ", password_hash=agents.hash_password("an old password"), role="agent"))
    session.commit()
    assert agents.login(session, "ｌｅｇａｃｙ", "an old password", 1)
    with pytest.raises(agents.AgentExists):
        agents.add_agent(session, "legacy")


def test_disabled_agents_cannot_sign_in_and_their_tokens_stop_working(session):
    agent, password = agents.add_agent(session, "小周")
    token = agents.login(session, "小周", password, 1)
    assert agents.agent_for_token(session, token).id == agent.id
    agents.set_disabled(session, agent, True)
    assert agents.agent_for_token(session, token) is None
    with pytest.raises(agents.AgentDisabled):
        agents.login(session, "小周", password, 1)
    assert agents.login(session, "小周", "wrong", 1) is None
    agents.set_disabled(session, agent, False)
    assert agents.login(session, "小周", password, 1)


def test_password_change_checks_the_old_one_and_ends_other_sessions(session):
    agent, password = agents.add_agent(session, "小吴")
    here, there = agents.login(session, "小吴", password, 1), agents.login(session, "小吴", password, 1)
    assert agents.change_password(session, agent.id, "wrong", "a long new password", here) is False
    with pytest.raises(agents.BadPassword):
        agents.change_password(session, agent.id, password, "short", here)
    with pytest.raises(agents.BadPassword):
        agents.change_password(session, agent.id, password, password, here)
    assert agents.change_password(session, agent.id, password, "a long new password", here) is True
    assert agents.agent_for_token(session, here) is not None and agents.agent_for_token(session, there) is None
    assert agents.login(session, "小吴", "a long new password", 1)
