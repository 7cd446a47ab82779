"""How a billing run is cut into background jobs: chunks of whole customers.

A customer is never split: its charges make its invoices (grouped by customer, ticket or
contract) and its contracts' allocation, which the engine computes per customer. A chunk
takes customers until it holds ``max_charges`` charges; a customer with more charges than
that is a chunk of its own. Customers keep the order given (the engine's order, by id), so
the same counts always give the same chunks.
"""

# Charges (or invoice lines) per chunk: a few seconds of one worker's time, far inside
# Odoo's default limits (60 s of CPU, 120 s of wall time, 2 GiB per worker).
MAX_CHARGES = 2000


def plan(counts, max_charges=MAX_CHARGES):
    """Cut ``counts`` (``[(customer id, number of charges)]``, in order) into chunks.

    :return: ``[(customer ids, number of charges)]``; customers with no charge are left out.
    """
    if max_charges < 1:
        raise ValueError("max_charges must be at least 1")
    chunks, customers, size = [], [], 0
    for customer, count in counts:
        if count <= 0:
            continue
        if customers and size + count > max_charges:
            chunks.append((customers, size))
            customers, size = [], 0
        customers.append(customer)
        size += count
    if customers:
        chunks.append((customers, size))
    return chunks
