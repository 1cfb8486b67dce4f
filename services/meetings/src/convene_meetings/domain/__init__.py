"""meetings' domain: the meeting aggregate, the rules for scheduling one, and the events it
raises.

Pure code only: no pymongo, faststream, aiokafka, fastapi or httpx imports. The service
layer (``convene_meetings.scheduling``) loads what a rule needs from the read models, calls
these functions, and stores what they return.
"""
