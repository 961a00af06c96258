"""The manager's office panel at /panel/: staff accounts, two-factor sign-in, roles and the
audit log. Served by the portal's app, but with its own cookie, sign-in and error pages; a
resident's session never opens it (404), and `EBOK_PANEL=off` turns it off (404).

How to add pages (the office's resident accounts, the accountant's imports and generations):

1. Write an area module, e.g. `portal/panel/accounts_views.py`, with
       routes = [route("/panel/accounts", accounts_page, OFFICE_WORK, name="panel_accounts"),
                 route("/panel/accounts/{login}/close", close, OFFICE_WORK, methods=["POST"])]
       sections = [Section("Konta mieszkańców", "/panel/accounts", OFFICE_WORK, "opis")]
   `roles.route` is the only way to declare a panel route: it names the roles that may use it
   (OFFICE_WORK = office + admin, ACCOUNTING = accountant + admin, ADMIN_ONLY, EVERYONE) and
   answers 404 to any other, on every request. `sections` are links on the home page and in
   the menu, shown to those roles only.
2. Add the module to `AREAS` in portal/panel/app.py.
3. In a view: `request.state.staff` is the signed-in StaffMember (id, login, role…);
   `request.app.state` is the portal's state (accounts, store, mailer, …) plus `staff`,
   `audit`. Render with `pages.render(request, "panel/x.html", {...})`; templates extend
   `panel/base.html`, and every POST form carries `{{ csrf_token(request) }}` as `csrf_token`.
4. Record every change with `audit(request, "action", target_kind="account", target=login,
   account_id=record.id, details="…")` (portal.panel.audit), after giving "action" a Polish
   label in `audit.ACTIONS`. Pass `account_id` whenever an entry names a resident account:
   that is how its login and e-mail leave the log when the account's data is erased.
5. Tests: the `staff_client(role)` fixture (tests/portal/panel/conftest.py) gives a client
   signed in through the real pages; add each new route to ROUTES in
   tests/portal/panel/test_roles.py (a test fails until you do).

Modules:
- the frame: app (the panel app, the /panel split, AREAS), session (cookie, expiry, who is
  signed in), auth (sign-in pages), roles, pages (rendering, error pages), totp, views (home);
- staff and audit (admin): staff (all staff SQL), staff_views, audit (the log), audit_views,
  cli (`ebok staff`);
- the office's resident accounts: accounts_views (search, new account), account_actions (one
  account and what is done with it), preview_views (as the resident sees it), office (what
  they share), search (the per-generation premises index), letters_store (letters waiting to
  be downloaded);
- the accountant's imports: importer (the Protocols the import service meets; the service
  itself is etl.import_service.ImportService, given by ebok.serve), uploads (streaming an upload to
  disk), imports_views (upload, history), import_job_views (one import's progress, report and
  re-run), import_labels (how an import is worded on these pages), generations_views (rollback).
Documentation for the office: docs/panel.md.
"""
