def days_in_month(month, year):
    """Days in a month of the Gregorian calendar; 0 for a bad month."""
    if month < 1 or month > 12:
        return 0
    if month == 2:
        leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
        return 29 if leap else 28
    if month == 4 or month == 6 or month == 9 or month == 11:
        return 30
    return 31
