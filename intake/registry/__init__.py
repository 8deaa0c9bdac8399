"""The registry: the directory of counties and departments, and the construction sites with their posters' tokens.
May import foundation and reading.
"""
