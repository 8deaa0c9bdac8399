"""Member units of the leading group answer for their part: tasks with deadlines given to departments and
counties (`tasks`), and each county's 清零 countdown with its forecast (`countdown`).
May import every package below it (foundation ... supervision).
"""
