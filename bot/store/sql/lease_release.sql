DELETE FROM leases WHERE name = :name AND holder = :holder
