"""Enforcement: what follows a complaint once the employer must be made to pay, beginning with evidence that
holds (the check of each case's hash chain over its timeline and files). It may import every package below it:
foundation up to supervision."""
