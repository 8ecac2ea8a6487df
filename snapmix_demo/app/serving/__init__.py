"""How the app faces the internet: settings, the request guard and body limits, fair queueing, upkeep, logs."""
