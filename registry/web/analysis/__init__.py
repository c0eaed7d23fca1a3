"""Dynamic analysis pages 动态分析 (issue 17): one file against plan and permit, the city by division and industry."""
