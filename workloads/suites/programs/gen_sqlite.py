"""Writes the programs suite's sqlite3 load (SQL on stdin of `sqlite3 :memory:`): inserts in
transactions, index builds, joins, group by, updates, deletes.
Usage: gen_sqlite.py OUT.sql [CUSTOMERS ORDERS]. Deterministic (fixed seed)."""
import random
import sys

def main():
    out = sys.argv[1]
    customers = int(sys.argv[2]) if len(sys.argv) > 2 else 15000
    orders = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    rng = random.Random(7)
    cities = ["city%03d" % i for i in range(300)]
    words = ["alpha", "bravo", "delta", "echo", "gamma", "kilo", "lima", "omega", "sigma", "tango"]
    lines = [
        # Temporary b-trees and sorter files in memory (heap), so nothing is written to /var/tmp.
        "PRAGMA temp_store = MEMORY;",
        "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, note TEXT);",
        "CREATE TABLE item(id INTEGER PRIMARY KEY, title TEXT, price INTEGER);",
        "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, item INTEGER,"
        " qty INTEGER, day INTEGER, memo TEXT);",
        "BEGIN;",
    ]
    for i in range(1, customers + 1):
        note = " ".join(rng.choice(words) for _ in range(rng.randrange(2, 12)))
        lines.append("INSERT INTO customer VALUES(%d,'cust%06d','%s','%s');"
                     % (i, rng.randrange(10**6), rng.choice(cities), note))
    for i in range(1, 2001):
        lines.append("INSERT INTO item VALUES(%d,'item-%s-%d',%d);"
                     % (i, rng.choice(words), i, rng.randrange(100, 100000)))
    lines.append("COMMIT;")
    batch = 10000
    for start in range(1, orders + 1, batch):
        lines.append("BEGIN;")
        for i in range(start, min(start + batch, orders + 1)):
            memo = "-".join(rng.choice(words) for _ in range(rng.randrange(1, 6)))
            lines.append("INSERT INTO orders VALUES(%d,%d,%d,%d,%d,'%s');"
                         % (i, rng.randrange(1, customers + 1), rng.randrange(1, 2001),
                            rng.randrange(1, 10), rng.randrange(365), memo))
        lines.append("COMMIT;")
    lines += [
        "CREATE INDEX orders_customer ON orders(customer, day);",
        "CREATE INDEX orders_item ON orders(item);",
        "CREATE INDEX orders_memo ON orders(memo, id);",
        "CREATE INDEX customer_city ON customer(city, name);",
        "ANALYZE;",
        # revenue per city: join of all three tables, group by, order by
        "SELECT c.city, count(*), sum(o.qty * i.price) FROM orders o"
        " JOIN customer c ON c.id = o.customer JOIN item i ON i.id = o.item"
        " GROUP BY c.city ORDER BY 3 DESC, 1 LIMIT 15;",
        # top customers with a correlated subquery and string building
        "SELECT c.name, group_concat(DISTINCT i.title), sum(o.qty) FROM customer c"
        " JOIN orders o ON o.customer = c.id JOIN item i ON i.id = o.item"
        " WHERE c.city IN ('city001','city002','city003')"
        " GROUP BY c.id HAVING sum(o.qty) > (SELECT avg(qty) * 8 FROM orders)"
        " ORDER BY 3 DESC, 1 LIMIT 10;",
        "UPDATE orders SET memo = memo || '-late' WHERE day > 300;",
        "DELETE FROM orders WHERE qty = 1 AND day % 7 = 0;",
        # a big external sort of text keys through a temporary b-tree
        "SELECT count(*), max(k) FROM (SELECT memo || '/' || customer AS k FROM orders"
        " ORDER BY k DESC);",
        "SELECT day / 30, count(DISTINCT customer), total(qty) FROM orders GROUP BY 1 ORDER BY 1;",
        "SELECT count(*), sum(length(note)) FROM customer WHERE note LIKE '%omega%sigma%';",
        "PRAGMA integrity_check;",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")

main()
