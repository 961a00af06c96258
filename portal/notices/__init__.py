"""E-mail notices about new data (issue 13): a resident who switches them on at `/settings`
gets one message per import that changes something of theirs: their premises' balance, new
charges in a ledger, a new document or announcement of their community.

- `store`: every SQL statement of the feature (the opt-in and what was sent), in one place.
- `diff`: what changed for one account between the previous and the new generation (pure).
- `compose`: the message (no amounts in it at all, only what changed and where to look).
- `tokens`: the signed one-click unsubscribe link.
- `job`: `NoticeJob`, the after-publish hook `ebok sync`, `ebok import` and the panel's
  uploads call (given by the ebok layer: etl never imports the portal).
- `views`: the settings page and the unsubscribe pages.
"""
