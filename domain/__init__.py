"""The order service's domain: business rules and the infrastructure every process shares.

Nothing here knows HTTP, GraphQL, AMQP consumers or taskiq workers; those are entrypoints on top.
"""
