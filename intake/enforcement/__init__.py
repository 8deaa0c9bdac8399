"""Enforcement: what follows a complaint once the employer must be made to pay: orders to pay, the transfer to the
police and its answers, case plans, clearing-out notices, listed parties wherever they turn up, the documents'
content, and evidence that holds (the check of each case's hash chain over its timeline and files). It may import
every package below it: foundation up to supervision."""
