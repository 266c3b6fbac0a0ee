"""Evaluations that turn Discovery's claims into numbers: relevance on judged collections
(`relevance`), collaborator recommendation on a temporal split (`collaborators`) and people search
on name variants (`names`). Each is a function returning a result object with a `table()`; the CLI
(`discovery eval ...`) only parses arguments and prints. `metrics` holds the pure ranking metrics."""
