-- Working hours for call-backs (SPEC §8, issue 10): the site's weekly
-- schedule in the text form of internal/schedule ("mon-fri 09:00-18:00;
-- sat 10:00-14:00"), local to sites.time_zone; NULL = around the clock. The
-- bootstrap derives is_schedule_active and delayed_call_times of the call
-- widgets from it, and a call ordered "now" while closed is scheduled for the
-- next opening.
ALTER TABLE sites ADD COLUMN call_schedule text CHECK (length(call_schedule) <= 1000);

-- Exit intent (SPEC §10): the rule fires only when the visitor is about to
-- leave the page (the pointer leaves through the top of the window, or a fast
-- scroll up on a touch screen), once its other conditions hold.
ALTER TABLE lead_rules ADD COLUMN on_exit boolean NOT NULL DEFAULT false;
