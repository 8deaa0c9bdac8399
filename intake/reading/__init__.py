"""Reading what a worker sends: free text into a claim draft, photos into clean, bounded images.
May import foundation only.
"""
