DROP TABLE hold_rules;
DROP TABLE waitlist;
