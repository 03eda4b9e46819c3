"""An organization's settings: members, teams, projects — and who may change them."""

from __future__ import annotations

import pytest
from django.test import Client

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, ProjectKey, Role, Team
from spyglass.test import World, make_user

pytestmark = pytest.mark.django_db

S = "/acme/settings/"


def member_of(world: World, user: User) -> Member:
    return Member.objects.get(organization=world.org, user=user)


def test_the_index_leads_to_members_and_every_page_shows_to_members(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    assert client.get(S)["Location"] == S + "members/"
    for page in ("members/", "teams/", "projects/"):
        response = client.get(S + page)
        assert response.status_code == 200
        main = response.content.decode().split('<div class="settings-main">')[1]
        assert 'type="submit"' not in main  # read-only for a plain member
        nav = response.content.decode().split('class="settings-nav"')[1].split("</nav>")[0]
        labels = ["Members", "Teams", "Projects", "Channels"]
        assert [label for label in labels if f">{label}</a>" in nav] == labels
        assert 'href="/acme/settings/channels/"' in nav


def test_another_organization_and_guessed_ids_are_404(client: Client, world: World) -> None:
    globex = Organization.get_or_create_named("Globex")
    Member.objects.create(organization=globex, user=world.charlie, role=Role.OWNER)
    spies = Team.objects.create(organization=globex, name="Spies", slug="spies")
    client.force_login(world.charlie)
    for page in ("", "members/", "teams/", "projects/"):
        assert client.get(S + page).status_code == 404
    bob = member_of(world, world.bob)
    assert client.post(f"{S}members/{bob.pk}/role/", {"role": "owner"}).status_code == 404
    assert client.post(f"{S}members/{bob.pk}/remove/").status_code == 404
    # Alice, owner of Acme, guessing Globex's ids from her own organization's paths:
    client.force_login(world.alice)
    charlie = Member.objects.get(organization=globex, user=world.charlie)
    assert client.post(f"{S}members/{charlie.pk}/remove/").status_code == 404
    assert client.get(f"{S}teams/spies/").status_code == 404
    assert client.post(f"{S}teams/spies/delete/").status_code == 404
    Team.objects.create(organization=world.org, name="Ops", slug="ops")
    add = client.post(f"{S}teams/ops/", {"action": "add_member", "member": charlie.pk})
    assert add.status_code == 404
    assert (
        Member.objects.filter(pk=charlie.pk).exists() and Team.objects.filter(pk=spies.pk).exists()
    )
    assert member_of(world, world.bob).role == Role.MEMBER


def test_a_member_changes_nothing(client: Client, world: World) -> None:
    alice = member_of(world, world.alice)
    client.force_login(world.bob)
    assert (
        client.post(S + "members/", {"email": "x@example.com", "role": "member"}).status_code == 403
    )
    assert client.post(f"{S}members/{alice.pk}/role/", {"role": "member"}).status_code == 403
    assert client.post(f"{S}members/{alice.pk}/remove/").status_code == 403
    assert client.post(S + "teams/", {"name": "Mine"}).status_code == 403
    assert client.post(S + "projects/", {"name": "Mine"}).status_code == 403
    assert member_of(world, world.alice).role == Role.OWNER
    assert not Team.objects.exists() and Project.objects.count() == 2


def test_writes_need_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    assert client.post(S + "projects/", {"name": "Sneaky"}).status_code == 403
    assert not Project.objects.filter(name="Sneaky").exists()


def test_an_owner_adds_an_existing_user_and_a_new_address(client: Client, world: World) -> None:
    client.force_login(world.alice)
    response = client.post(S + "members/", {"email": "Charlie@Example.com", "role": "admin"})
    assert response["Location"] == S + "members/"
    assert member_of(world, world.charlie).role == Role.ADMIN
    client.post(S + "members/", {"email": "newcomer@example.com", "role": "member"})
    newcomer = User.objects.get(email="newcomer@example.com")
    assert not newcomer.has_usable_password()  # they set one by resetting it
    assert member_of(world, newcomer).role == Role.MEMBER
    again = client.post(S + "members/", {"email": "bob@example.com", "role": "member"})
    assert "already a member" in again.content.decode()


def test_a_manager_manages_members_but_not_owners(client: Client, world: World) -> None:
    bob = member_of(world, world.bob)
    bob.role = Role.MANAGER
    bob.save()
    alice = member_of(world, world.alice)
    client.force_login(world.bob)
    owner = client.post(S + "members/", {"email": "eve@example.com", "role": "owner"})
    assert "Only an owner makes someone an owner." in owner.content.decode()
    client.post(f"{S}members/{alice.pk}/role/", {"role": "member"})
    client.post(f"{S}members/{alice.pk}/remove/")
    assert member_of(world, world.alice).role == Role.OWNER
    client.post(S + "members/", {"email": "charlie@example.com", "role": "member"})
    charlie = member_of(world, world.charlie)
    client.post(f"{S}members/{charlie.pk}/role/", {"role": "admin"})
    assert member_of(world, world.charlie).role == Role.ADMIN
    client.post(f"{S}members/{charlie.pk}/remove/")
    assert not Member.objects.filter(pk=charlie.pk).exists()


def test_an_admin_manages_teams_and_projects_but_not_members(client: Client, world: World) -> None:
    bob = member_of(world, world.bob)
    bob.role = Role.ADMIN
    bob.save()
    client.force_login(world.bob)
    assert (
        client.post(S + "members/", {"email": "x@example.com", "role": "member"}).status_code == 403
    )
    assert client.post(S + "teams/", {"name": "Payments"})["Location"] == S + "teams/payments/"


def test_the_last_owner_can_neither_leave_nor_be_demoted(client: Client, world: World) -> None:
    alice = member_of(world, world.alice)
    client.force_login(world.alice)
    response = client.post(f"{S}members/{alice.pk}/remove/", follow=True)
    assert "The last owner can&#x27;t be removed" in response.content.decode()
    response = client.post(f"{S}members/{alice.pk}/role/", {"role": "member"}, follow=True)
    assert "The last owner stays an owner" in response.content.decode()
    assert member_of(world, world.alice).role == Role.OWNER

    bob = member_of(world, world.bob)
    client.post(f"{S}members/{bob.pk}/role/", {"role": "owner"})
    assert member_of(world, world.bob).role == Role.OWNER
    assert client.post(f"{S}members/{bob.pk}/role/", {"role": "god"}).status_code == 302
    assert member_of(world, world.bob).role == Role.OWNER
    client.post(f"{S}members/{alice.pk}/role/", {"role": "member"})  # now there is another
    assert member_of(world, world.alice).role == Role.MEMBER


def test_teams_are_created_filled_given_projects_and_deleted(client: Client, world: World) -> None:
    client.force_login(world.alice)
    client.post(S + "teams/", {"name": "Payments Team"})
    team = Team.objects.get(organization=world.org, slug="payments-team")
    duplicate = client.post(S + "teams/", {"name": "payments team"})
    assert "A team with this name exists." in duplicate.content.decode()
    url = f"{S}teams/{team.slug}/"
    bob = member_of(world, world.bob)
    client.post(url, {"action": "add_member", "member": bob.pk})
    client.post(url, {"action": "add_project", "project": world.project.pk})
    assert list(team.members.all()) == [bob] and list(team.projects.all()) == [world.project]
    page = client.get(url).content.decode()
    assert "bob@example.com" in page and "Backend" in page
    client.post(url, {"action": "remove_member", "member": bob.pk})
    client.post(url, {"action": "remove_project", "project": world.project.pk})
    assert not team.members.exists() and not team.projects.exists()
    assert client.post(url, {"action": "promote"}).status_code == 404
    assert client.post(url + "delete/")["Location"] == S + "teams/"
    assert not Team.objects.filter(pk=team.pk).exists()


def test_a_new_project_gets_a_key_and_its_team_and_opens_its_setup_page(
    client: Client, world: World
) -> None:
    team = Team.objects.create(organization=world.org, name="Web", slug="web")
    client.force_login(world.alice)
    response = client.post(
        S + "projects/", {"name": "Checkout", "platform": "node", "team": team.pk}
    )
    assert response["Location"] == "/acme/checkout/"
    project = Project.objects.get(organization=world.org, slug="checkout")
    assert project.platform == "node" and list(project.teams.all()) == [team]
    assert ProjectKey.objects.filter(project=project, is_active=True).count() == 1
    listing = client.get(S + "projects/").content.decode()
    assert 'href="/acme/checkout/settings/"' in listing and "Delete…" in listing
    nameless = client.post(S + "projects/", {"name": "!!!"})
    assert "at least one letter or digit" in nameless.content.decode()


def test_a_stranger_signed_in_sees_no_organization_settings(client: Client, world: World) -> None:
    client.force_login(make_user("dave@example.com"))
    assert client.get(S + "members/").status_code == 404
