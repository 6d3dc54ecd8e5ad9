"""Surgery referrals: referrers and referral links refer patients; coordinators work a queue."""
