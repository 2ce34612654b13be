"""SPF, DKIM and DMARC against a real authoritative DNS server on loopback."""

from __future__ import annotations

from mailing.services.inbound.authentication import aligned, message_authenticate, organizational_domain
from tests.inbound_support import dkim_key_make, mail_make


def _check(raw: bytes, from_address: str, mail_from: str, peer: str = "127.0.0.1"):
    return message_authenticate(raw=raw, from_address=from_address, mail_from=mail_from, peer_address=peer,
                                helo="sender.example")  # fmt: skip


def test_spf_pass_for_the_from_domain_authenticates(dns_settings):
    dns_settings.txt("spf-ok.test", "v=spf1 ip4:127.0.0.1 -all")
    result = _check(mail_make(from_address="a@spf-ok.test", to="x@test.localhost"), "a@spf-ok.test", "a@spf-ok.test")
    assert result.spf_result == "pass"
    assert result.from_authenticated
    assert result.return_path_authenticated


def test_spf_pass_for_another_domain_is_not_aligned(dns_settings):
    dns_settings.txt("bulk-sender.test", "v=spf1 ip4:127.0.0.1 -all")
    dns_settings.txt("_dmarc.brand.test", "v=DMARC1; p=reject")
    raw = mail_make(from_address="ceo@brand.test", to="x@test.localhost")
    result = _check(raw, "ceo@brand.test", "bounce@bulk-sender.test")
    assert result.spf_result == "pass"
    assert not result.from_authenticated
    assert result.dmarc_fail


def test_dkim_signature_of_the_from_domain_authenticates_even_with_spf_failing(dns_settings):
    key = dkim_key_make(dns_settings, "dkim-ok.test")
    dns_settings.txt("dkim-ok.test", "v=spf1 -all")
    dns_settings.txt("_dmarc.dkim-ok.test", "v=DMARC1; p=quarantine")
    raw = key.sign(mail_make(from_address="a@dkim-ok.test", to="x@test.localhost"))
    result = _check(raw, "a@dkim-ok.test", "a@dkim-ok.test")
    assert result.spf_result == "fail"
    assert result.dkim_pass_domains == ["dkim-ok.test"]
    assert result.from_authenticated
    assert not result.dmarc_fail


def test_a_message_changed_after_signing_does_not_pass_dkim(dns_settings):
    key = dkim_key_make(dns_settings, "dkim-tamper.test")
    raw = key.sign(mail_make(from_address="a@dkim-tamper.test", to="x@test.localhost", body="original\n"))
    tampered = raw.replace(b"original", b"tampered")
    assert _check(tampered, "a@dkim-tamper.test", "a@dkim-tamper.test").dkim_pass_domains == []


def test_dmarc_policy_falls_back_to_the_organizational_domain_with_sp(dns_settings):
    dns_settings.txt("_dmarc.parent.test", "v=DMARC1; p=none; sp=reject")
    result = _check(mail_make(from_address="a@mail.parent.test", to="x@t"), "a@mail.parent.test", "a@x.test")
    assert result.dmarc.found
    assert result.dmarc.policy == "reject"


def test_no_dns_records_means_unauthenticated_but_no_dmarc_failure(dns_settings):
    result = _check(mail_make(from_address="a@nothing.test", to="x@t"), "a@nothing.test", "a@nothing.test")
    assert result.spf_result == "none"
    assert not result.from_authenticated
    assert not result.dmarc_fail


def test_alignment_modes():
    assert organizational_domain("mail.example.co.jp") == "example.co.jp"
    assert organizational_domain("Mail.Example.COM.") == "example.com"
    assert organizational_domain("co.jp") == "co.jp"  # a public suffix is its own
    # Deeper Japanese suffixes (schools, towns): two registrants are two organizations.
    assert organizational_domain("mail.sakura-school.ed.jp") == "sakura-school.ed.jp"
    assert organizational_domain("mail.school.chiyoda.tokyo.jp") == "school.chiyoda.tokyo.jp"
    assert not aligned("a.chiyoda.tokyo.jp", "b.chiyoda.tokyo.jp")
    assert not aligned("alice.github.io", "bob.github.io")
    assert aligned("mail.sakura-school.ed.jp", "sakura-school.ed.jp")
    assert aligned("mail.example.com", "example.com")
    assert not aligned("mail.example.com", "example.com", "s")
    assert not aligned("example.net", "example.com")
