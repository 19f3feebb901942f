"""The browser classroom (`python app.py web`): trainees join a room from their own browsers, each
gets a lab and a console of their own that survives reloads and lost connections, and the
trainer watches the whole room live on a dashboard.

    command.py     `web`'s options -> a room and a server; the console side of a session
    classroom.py   the room as the server runs it: its folder, the labs held, consoles, actions
    room.py        the pure part: who joined, the dashboard's rows, CSV and markdown
    console.py     one trainee's console process, shown on any number of pages
    driver.py      Textual's web driver in the console, plus a redraw for a newly attached page
    server.py      the HTTP routes, pages and websockets (aiohttp)

This package's __init__ imports nothing: room.py is part of the pure core.
"""
