
/
bigConst*!
valueB€€€€€ €€€€€ 