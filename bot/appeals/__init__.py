"""Appeals: an article that asks for money carries its campaign's Donate button.

`matching` picks the campaign an article appeals for; `sending` turns the
neutral `Appeal` on a post into what each chat can use when it is sent;
`links` reads and writes the deep-link payloads (`/start donate-russia`).
"""
